/**
 * `npm start`: the whole doozer stack on loopback, with no cloud account and no Docker.
 * `npm start -- --no-workers` leaves the workers stopped; `npm run workers` starts them later.
 */
import { parseArgs } from 'node:util';
import { loadLocalSettings } from './settings.ts';
import { startLocalStack, stopOnSignals } from './stack.ts';

// The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22): known, see README.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({ options: { 'no-workers': { type: 'boolean', default: false } } });
const settings = loadLocalSettings();
const log = (line: string) => console.error(`[doozer] ${line}`);

// Signals are handled from the start: Ctrl-C while serverless-offline is still starting must stop
// it too (it runs in its own process group, so the terminal's SIGINT does not reach it).
const aborter = new AbortController();
const starting = startLocalStack(settings, { workers: !values['no-workers'], log, signal: aborter.signal });
stopOnSignals(async () => {
  log('stopping…');
  aborter.abort();
  const started = await starting.catch(() => undefined); // Aborted mid-start: already cleaned up.
  await started?.stop();
});
await starting.catch((error: Error): Promise<never> => {
  if (aborter.signal.aborted) return new Promise<never>(() => {}); // The signal handler exits.
  log(`could not start the local stack: ${error.message}`);
  process.exit(1);
});

const { username, password } = settings.devUser;
console.log(`
doozer is running locally (stage local).

  API        ${settings.apiUrl}
  user       ${username} / ${password}
  workers    ${values['no-workers'] ? 'stopped: start them with `npm run workers`' : 'running'}
  SQS        ${settings.sqsEndpoint}${settings.embedded.sqs ? ' (embedded fauxqs)' : ''}
  DynamoDB   ${settings.dynamodbEndpoint}${settings.embedded.dynamodb ? ' (embedded dynalite)' : ''}
  AWS creds  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1

Try it:
  TOKEN=$(curl -s ${settings.apiUrl}/auth/token -H 'content-type: application/json' \\
    -d '{"username":"${username}","password":"${password}"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')
  curl -s ${settings.apiUrl}/tasks -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"name":"add","args":[1,2,3,4,5,6]}'

Ctrl-C stops everything.
`);

