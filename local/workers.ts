/**
 * `npm run workers`: start the workers against a stack that runs without them
 * (`npm start -- --no-workers`), as when workers come back online after an outage.
 */
import { loadLocalSettings } from './settings.ts';
import { startWorkers, stopOnSignals, waitForApi } from './stack.ts';

// The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22): known; the SDK is pinned (README, "More").
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const settings = loadLocalSettings();
const log = (line: string) => console.error(`[doozer workers] ${line}`);

await waitForApi(settings.apiUrl, { timeoutMs: 60_000 }).catch(() => {
  log(`no stack answers at ${settings.apiUrl}; start it with \`npm start -- --no-workers\``);
  process.exit(1);
});
const workers = await startWorkers(settings, log);
log(`consuming the task queue at ${settings.sqsEndpoint}; Ctrl-C stops`);
console.log('workers ready');

stopOnSignals(() => workers.stop());
