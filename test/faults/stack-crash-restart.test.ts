import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { type StackProcess, devUserToken, isListening, startStackProcess } from '../support/local-stack-process.ts';
import { report } from './support.ts';

const TASKS = 1_000;
const CONCURRENCY = 16;

/**
 * The local stack crashed (kill -9 of `npm start`'s process group) while its workers were working
 * through 1,000 accepted tasks, then started again on the same data folder: the store kept every
 * task, the SQS emulator kept nothing, so `npm start` queues again every task still open. Each of
 * the 1,000 must end SUCCESS with its sum, and none may be ended twice (each worker log line
 * `task ended` stands for a terminal write that took effect).
 *
 * The tasks are accepted with the workers stopped, then the workers start and the crash comes once
 * a few hundred have ended: with the workers running from the start they keep up with the API, and
 * almost nothing would be open at the crash.
 */
describe('npm start crashed in the middle of 1,000 accepted tasks, then started again', () => {
  let dataDir: string;
  let stack: StackProcess | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'doozer-crash-'));
  });

  afterAll(async () => {
    await stack?.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  it(`ends all ${TASKS} SUCCESS, each exactly once`, { timeout: 600_000 }, async () => {
    stack = await startStackProcess({ workers: false, dataDir, viaNpm: true });
    const first = stack;
    const authorization = `Bearer ${await devUserToken(first.apiUrl)}`;
    const accepted = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TASKS) {
          const n = next++;
          const response = await fetch(`${first.apiUrl}/tasks?wait=0`, {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'add', args: [n, 1] }),
          });
          const task = (await response.json()) as { id: string };
          expect([200, 202]).toContain(response.status);
          accepted.set(task.id, n + 1);
        }
      }),
    );
    expect(accepted.size).toBe(TASKS);
    const workers = await first.startWorkers();
    await eventually(() => expect(endedTaskIds(first.output()).length).toBeGreaterThanOrEqual(TASKS / 4), {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    // `npm run workers` is ours, not part of the stack's group: it has lost its stack.
    await workers.stop('SIGKILL');
    await eventually(async () => {
      for (const port of Object.values(first.ports)) expect(await isListening(port)).toBe(false);
    }, { timeoutMs: 5_000 });

    const endedBeforeCrash = endedTaskIds(first.output()).length;
    stack = await startStackProcess({ workers: true, dataDir, env: first.env });
    const requeued = Number(/queued again (\d+) open tasks?/.exec(stack.output())?.[1] ?? 0);
    const apiUrl = stack.apiUrl;
    const restarted = `Bearer ${await devUserToken(apiUrl)}`;
    const ended = new Map<string, { state: string; result: unknown }>();
    const ids = [...accepted.keys()];
    let cursor = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (cursor < ids.length) {
          const id = ids[cursor++]!;
          const task = await eventually(
            async () => {
              const response = await fetch(`${apiUrl}/tasks/${id}?wait=5`, { headers: { authorization: restarted } });
              const body = (await response.json()) as { state: string; result: unknown };
              expect(['SUCCESS', 'FAILURE']).toContain(body.state);
              return body;
            },
            { timeoutMs: 120_000, intervalMs: 200 },
          );
          ended.set(id, task);
        }
      }),
    );

    const wrong = [...accepted].filter(([id, sum]) => ended.get(id)?.state !== 'SUCCESS' || ended.get(id)?.result !== sum);
    // Every task open at the restart is ended by the second run, each with one line; a line comes
    // just after its write, so the last ones may trail the lookups by a moment.
    const second = stack;
    await eventually(() => expect(endedTaskIds(second.output())).toHaveLength(requeued), { timeoutMs: 10_000 });
    const endsPerTask = new Map<string, number>();
    for (const id of [...endedTaskIds(first.output()), ...endedTaskIds(second.output())]) {
      endsPerTask.set(id, (endsPerTask.get(id) ?? 0) + 1);
    }
    const endedTwice = [...endsPerTask.values()].filter((count) => count > 1).length;
    report(`crash during ${TASKS} accepted tasks, then npm start`, {
      accepted: accepted.size,
      endedBeforeCrash: endedBeforeCrash,
      openAtCrash: requeued,
      success: [...ended.values()].filter((task) => task.state === 'SUCCESS').length,
      wrongOrMissing: wrong.length,
      endedTwice,
    });
    expect(requeued).toBeGreaterThanOrEqual(TASKS / 4);
    expect(wrong).toEqual([]);
    expect(endedTwice).toBe(0);
  });
});

/**
 * The task id of each `task ended` line the worker logged (one per terminal write that took effect).
 * The last line of a killed process may be cut short: a line that is not whole JSON is left out.
 */
function endedTaskIds(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"message":"task ended"'))
    .flatMap((line) => {
      try {
        return [(JSON.parse(line.slice(line.indexOf('{'))) as { taskId: string }).taskId];
      } catch {
        return [];
      }
    });
}
