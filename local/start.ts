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

const stack = await startLocalStack(settings, { workers: !values['no-workers'], log }).catch((error: Error) => {
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

stopOnSignals(() => {
  log('stopping…');
  return stack.stop();
});
