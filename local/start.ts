/**
 * `npm start`: the whole doozer stack on loopback, with no cloud account and no Docker.
 * `npm start -- --no-workers` leaves the workers stopped; `npm run workers` starts them later.
 * `npm start -- --fresh` starts with an empty table; by default the tasks of the last run are kept.
 */
import { parseArgs } from 'node:util';
import { type LocalSettings, loadLocalSettings } from './settings.ts';
import { startLocalStack, stopOnSignals } from './stack.ts';

// The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22): known; the SDK is pinned (README, "More").
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const log = (line: string) => console.error(`[doozer] ${line}`);

let values;
let settings;
try {
  ({ values } = parseArgs({
    options: { 'no-workers': { type: 'boolean', default: false }, fresh: { type: 'boolean', default: false } },
  }));
  settings = loadLocalSettings();
} catch (error) {
  log(`${(error as Error).message}\nusage: npm start [-- --no-workers] [-- --fresh]`);
  process.exit(2);
}

// Signals are handled from the start: Ctrl-C while serverless-offline is still starting must stop
// it too (it runs in its own process group, so the terminal's SIGINT does not reach it).
const aborter = new AbortController();
const starting = startLocalStack(settings, { workers: !values['no-workers'], fresh: values.fresh, log, signal: aborter.signal });
stopOnSignals(async () => {
  log('stopping…');
  aborter.abort();
  const started = await starting.catch(() => undefined); // Aborted mid-start: already cleaned up.
  await started?.stop();
});
// A crash of this process must not leave the stack half up: stop what runs, then exit.
process.on('uncaughtException', (error) => {
  log(`stopping after an unexpected error: ${describeError(error)}`);
  aborter.abort();
  void starting
    .then((started) => started.stop())
    .catch(() => {})
    .finally(() => process.exit(1));
});
// npm (whose script execs this process) killed on its own, by pid: this process would be reparented
// and run on with nobody to stop it. Its parent's end is its end.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 1_000).unref();

const stack = await starting.catch((error: Error): Promise<never> => {
  if (aborter.signal.aborted) return new Promise<never>(() => {}); // The signal handler exits.
  log(`could not start the local stack: ${describeError(error)}`);
  process.exit(1);
});
// A part that dies on its own takes the whole stack down, loudly: a stack that answers /health
// with no API behind it is worse than none.
void stack.failed.then(async (reason) => {
  log(`${reason}; stopping the whole stack`);
  await stack.stop();
  process.exit(1);
});

const { username, password } = settings.devUser;

/** The users' own limits (DOOZER_LOCAL_USER_LIMITS), a user a line; nothing when none has any. */
function limitsLine(limits: LocalSettings['userLimits']): string {
  return Object.entries(limits)
    .map(([user, own]) => `\n  limits     ${user}: ${Object.entries(own).map(([name, value]) => `${name} ${value}`).join(', ')}`)
    .join('');
}
const cliUrl = settings.apiPort === 3000 ? '' : `DOOZER_URL=${settings.apiUrl} `;
console.log(`
doozer is running locally (stage local).

  web page   ${settings.apiUrl}/   (API docs: ${settings.apiUrl}/docs)
  API        ${settings.apiUrl}
  user       ${username} / ${password}${settings.localUsers.length > 0 ? `\n  also       ${settings.localUsers.map((user) => user.username).join(', ')} (DOOZER_LOCAL_USERS)` : ''}${limitsLine(settings.userLimits)}
  webhooks   signed with the development secret; npm run webhook-receiver takes them on http://127.0.0.1:3005/webhooks
  workers    ${values['no-workers'] ? 'stopped: start them with `npm run workers`' : 'running'}
  SQS        ${settings.sqsEndpoint}${settings.embedded.sqs ? ' (embedded fauxqs)' : ''}
  DynamoDB   ${settings.dynamodbEndpoint}${settings.embedded.dynamodb ? ` (embedded dynalite, data in ${settings.dataDir}; --fresh starts empty)` : ''}
  AWS creds  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
  CLI        ${cliUrl}npx doozer add --i 1,2,3

Try it: open ${settings.apiUrl}/ in a browser and sign in, or from a shell:
  TOKEN=$(curl -s ${settings.apiUrl}/auth/token -H 'content-type: application/json' \\
    -d '{"username":"${username}","password":"${password}"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')
  curl -s ${settings.apiUrl}/tasks -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"name":"add","args":[1,2,3,4,5,6]}'

Ctrl-C stops everything.
`);

/** The message of `error` and of each cause under it: the SDK's own reason is often the useful part. */
function describeError(error: unknown): string {
  const messages: string[] = [];
  for (let current = error; current instanceof Error && messages.length < 5; current = current.cause) messages.push(current.message);
  return messages.join(': ');
}
