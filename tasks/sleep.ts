import { setTimeout as wait } from 'node:timers/promises';
import * as z from 'zod/mini';
import { defineTask } from '../lib/tasks/define-task.ts';

const LIMIT_SECONDS = 120;
/** How often a sleep reports its progress. */
const STEP_MS = 250;

export const sleep = defineTask({
  name: 'sleep',
  description:
    `Waits \`ms\` milliseconds (up to ${LIMIT_SECONDS * 1000}), reporting its progress, then answers with the time it slept. ` +
    'The easy way to see a task outlive the 5 s wait, or its time limit.',
  args: z.strictObject({
    ms: z.int().check(z.minimum(0), z.maximum(LIMIT_SECONDS * 1000)),
  }),
  result: z.strictObject({ slept: z.int().check(z.meta({ description: 'Milliseconds slept.' })) }),
  // A sleep of the whole limit ends FAILURE `timeout`: what a task that outlives its limit looks like.
  timeoutSeconds: LIMIT_SECONDS,
  pure: true,
  run: async ({ ms }, ctx) => {
    const started = Date.now();
    for (let left = ms; left > 0; left = ms - (Date.now() - started)) {
      ctx.progress({ done: ms - left, total: ms }, `${Math.ceil(left / 1000)} s to go`);
      // Rejects with the signal's reason when the task must stop.
      await wait(Math.min(STEP_MS, left), undefined, { signal: ctx.signal });
    }
    return { slept: Date.now() - started };
  },
});
