/**
 * `npm run workers`: start the workers against a stack that runs without them
 * (`npm start -- --no-workers`), as when workers come back online after an outage.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadLocalSettings } from './settings.ts';
import { startWorkers } from './stack.ts';

// The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22): known, see README.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const settings = loadLocalSettings();
const log = (line: string) => console.error(`[doozer workers] ${line}`);

await waitForApi(settings.apiUrl);
const workers = await startWorkers(settings, log);
log(`consuming the task queue at ${settings.sqsEndpoint}; Ctrl-C stops`);
console.log('workers ready');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void workers.stop().then(() => process.exit(0));
  });
}

/** The worker functions run inside `serverless offline`: wait until the stack answers. */
async function waitForApi(apiUrl: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const healthy = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await sleep(200);
  }
  log(`no stack answers at ${apiUrl}; start it with \`npm start -- --no-workers\``);
  process.exit(1);
}
