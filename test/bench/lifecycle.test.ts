import { describe, expect, it } from 'vitest';
import type { CallCounts } from '../../bench/call-counter.ts';
import { CallCounter, perTask } from '../../bench/call-counter.ts';
import { type LifecycleRun, summarizeLifecycle } from '../../bench/lifecycle-figures.ts';
import { lifecycleSection } from '../../bench/lifecycle-report.ts';
import { type ListPage, watchCompletion } from '../../bench/lifecycle-watch.ts';
import { median } from '../../bench/load.ts';

/**
 * A user's task list as `GET /tasks` answers it: newest first, pages of `limit` after a cursor
 * (the cursor names the last task of the page before). `older` tasks were there before the side's.
 */
function fakeList(ids: readonly string[], older: readonly string[] = []) {
  const states = new Map<string, { state: string; result?: unknown; updatedAt: string }>();
  for (const id of [...ids, ...older]) states.set(id, { state: 'PENDING', updatedAt: '2026-12-02T10:00:00.000Z' });
  for (const id of older) states.set(id, { state: 'SUCCESS', result: -1, updatedAt: '2026-12-01T10:00:00.000Z' });
  const newestFirst = [...ids].reverse().concat(older);
  const requests: { limit: number; cursor: string | undefined }[] = [];
  const listPage: ListPage = async (limit, cursor) => {
    requests.push({ limit, cursor });
    const start = cursor === undefined ? 0 : newestFirst.indexOf(cursor) + 1;
    const tasks = newestFirst.slice(start, start + limit).map((id) => ({ id, ...states.get(id)! }));
    const next = start + limit < newestFirst.length ? tasks.at(-1)!.id : null;
    return { tasks, next };
  };
  const finish = (id: string, updatedAt: string, result: unknown, state = 'SUCCESS') => states.set(id, { state, result, updatedAt });
  return { listPage, requests, finish };
}

describe('watchCompletion (bench lifecycle)', () => {
  const ids = Array.from({ length: 25 }, (_, index) => `t${String(index).padStart(2, '0')}`); // t00 oldest … t24 newest
  const expected = new Map(ids.map((id, index) => [id, index + 1]));

  it('walks the pages once, then reads again only the oldest open page, and the next ones while they are done', async () => {
    const list = fakeList(ids, ['old1', 'old2']);
    // Everything but the two newest is done before the watch starts.
    ids.slice(0, 23).forEach((id, index) => list.finish(id, `2026-12-02T10:00:01.${String(index).padStart(3, '0')}Z`, index + 1));
    let rounds = 0;
    const watching = watchCompletion({
      expected,
      listPage: async (limit, cursor) => {
        // The newest two end after the first re-read of their page.
        if (list.requests.length === 4) {
          rounds += 1;
          list.finish('t23', '2026-12-02T10:00:02.500Z', 24);
          list.finish('t24', '2026-12-02T10:00:02.400Z', 25);
        }
        return list.listPage(limit, cursor);
      },
      deadline: performance.now() + 10_000,
      intervalMs: 1,
      pageSize: 10,
    });
    const completion = await watching;
    expect(rounds).toBe(1);
    // Walk: 10, 10, then only the 5 left (the older tasks are never read as the side's).
    expect(list.requests.slice(0, 3).map((request) => request.limit)).toEqual([10, 10, 5]);
    // Only the newest page was open: it alone is read again, with the cursor of the walk (none: the first page).
    expect(list.requests.slice(3)).toEqual([{ limit: 10, cursor: undefined }, { limit: 10, cursor: undefined }]);
    expect(completion).toMatchObject({ completed: 25, errors: 0, open: 0, listRequests: 5, truncated: false });
    expect(completion.lastSuccessMs).toBe(Date.parse('2026-12-02T10:00:02.500Z'));
  });

  it('reads an open older page again with its own cursor, oldest first, and stops at the first page still open', async () => {
    const list = fakeList(ids);
    const watching = watchCompletion({ expected, listPage: list.listPage, deadline: performance.now() + 10_000, intervalMs: 5, pageSize: 10 });
    await new Promise((resolve) => setTimeout(resolve, 1));
    // After the walk (3 requests) nothing is done: each round reads the oldest page (cursor t05) and stops there.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const walkAndRounds = list.requests.length;
    expect(list.requests.slice(3).every((request) => request.cursor === 't05' && request.limit === 5)).toBe(true);
    ids.forEach((id, index) => list.finish(id, '2026-12-02T10:00:03.000Z', index + 1));
    const completion = await watching;
    expect(walkAndRounds).toBeGreaterThan(3);
    // The round that finds the oldest page done goes on to the newer pages in the same round.
    expect(list.requests.slice(-3).map((request) => request.cursor)).toEqual(['t05', 't15', undefined]);
    expect(completion).toMatchObject({ completed: 25, errors: 0, open: 0 });
  });

  it('counts a wrong result, a failed task and tasks still open at the time bound as errors', async () => {
    const list = fakeList(ids);
    ids.forEach((id, index) => list.finish(id, '2026-12-02T10:00:03.000Z', index + 1));
    list.finish('t03', '2026-12-02T10:00:03.000Z', 99);
    list.finish('t04', '2026-12-02T10:00:03.000Z', undefined, 'FAILURE');
    list.finish('t20', '2026-12-02T10:00:03.000Z', undefined, 'PENDING');
    list.finish('t21', '2026-12-02T10:00:03.000Z', undefined, 'RETRY');
    const completion = await watchCompletion({ expected, listPage: list.listPage, deadline: performance.now() + 20, intervalMs: 5, pageSize: 10 });
    expect(completion).toMatchObject({ completed: 21, errors: 4, open: 2, truncated: true });
    expect(Object.keys(completion.errorSamples)).toHaveLength(3);
  });

  it('says so when the newest tasks listed are not the side\'s', async () => {
    const list = fakeList([...ids, 'intruder']);
    ids.forEach((id, index) => list.finish(id, '2026-12-02T10:00:03.000Z', index + 1));
    list.finish('intruder', '2026-12-02T10:00:03.000Z', 0);
    const completion = await watchCompletion({ expected, listPage: list.listPage, deadline: performance.now() + 1_000, intervalMs: 1, pageSize: 10 });
    expect(completion.errorSamples).toHaveProperty(['GET /tasks listed a task that this side did not submit among its newest']);
    expect(completion.completed).toBe(24);
  });
});

const counts = (perTaskCalls: Record<string, number>, tasks: number, apiRequests: number, workerInvocations: number): CallCounts => ({
  aws: Object.fromEntries(Object.entries(perTaskCalls).map(([target, per]) => [target, per * tasks])),
  invocations: { 'doozer-local-worker': workerInvocations },
  records: { 'doozer-local-worker': tasks },
  apiRequests,
});

function run(side: 'batch' | 'single', round: number, accepted: number, completed: number, overrides: Partial<LifecycleRun> = {}): LifecycleRun {
  const tasks = 1_000;
  const counted =
    side === 'batch'
      ? counts({ 'DynamoDB_20120810.BatchWriteItem': 0.04, 'AmazonSQS.SendMessageBatch': 0.1, 'DynamoDB_20120810.UpdateItem': 1 }, tasks, 10 + 5, tasks)
      : counts({ 'DynamoDB_20120810.PutItem': 1, 'AmazonSQS.SendMessage': 1, 'DynamoDB_20120810.UpdateItem': 1 }, tasks, tasks + 5, tasks);
  const span = { benchMs: 1_000, offlineMs: 2_000, wallMs: 2_000, operations: tasks };
  return {
    side,
    round,
    concurrency: side === 'batch' ? 4 : 16,
    tasksPerRequest: side === 'batch' ? 100 : 1,
    tasks,
    requests: side === 'batch' ? 10 : tasks,
    accepted: tasks,
    completed: tasks,
    errors: 0,
    errorSamples: {},
    truncated: false,
    submitSeconds: tasks / accepted,
    acceptedPerSecond: accepted,
    completeSeconds: tasks / completed,
    completedPerSecond: completed,
    drainSeconds: 1,
    seenSeconds: tasks / completed + 0.1,
    request: { p50: side === 'batch' ? 120 : 40, p90: 0, p99: 0, max: 0, mean: 0 },
    listRequests: 15,
    cpu: { submit: { benchMsPerOp: 1, offlineMsPerOp: 2, totalMsPerOp: 3, coresBusy: 1.5, cpuCeilingPerSecond: 500 }, whole: { benchMsPerOp: 1, offlineMsPerOp: 2, totalMsPerOp: 3, coresBusy: 1.5, cpuCeilingPerSecond: 500 } },
    cpuMs: { submit: span, whole: span },
    calls: perTask({ aws: {}, invocations: {}, records: {}, apiRequests: 0 }, counted, tasks),
    workers: { invocations: tasks, busyMs: tasks * 8, meanMs: 8, meanInFlight: (tasks * 8) / ((tasks / completed) * 1000), peakInFlight: round + 2, perSecond: completed },
    ...overrides,
  };
}

describe('invocation timing (bench call counter)', () => {
  it('times each event-source invocation to its end and keeps the most running at once since the last reset', async () => {
    const counter = new CallCounter();
    const first = counter.observer.onInvoke('worker', 1);
    const second = counter.observer.onInvoke('worker', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    first();
    expect(counter.invocationTiming()).toMatchObject({ ended: { worker: 1 }, peakInFlight: { worker: 2 } });
    counter.resetPeaks();
    expect(counter.invocationTiming().peakInFlight).toEqual({ worker: 1 });
    second();
    const timing = counter.invocationTiming();
    expect(timing.ended).toEqual({ worker: 2 });
    expect(timing.busyMs.worker).toBeGreaterThanOrEqual(8);
    expect(counter.snapshot().invocations).toEqual({ worker: 2 });
  });
});

describe('summarizeLifecycle (bench lifecycle)', () => {
  it('takes medians of each side\'s rounds, sums the counts, and divides batch by single', () => {
    const runs = [
      run('single', 0, 300, 200),
      run('batch', 0, 3_000, 260),
      run('batch', 1, 2_400, 240),
      run('single', 1, 330, 230),
      run('single', 2, 310, 210),
      run('batch', 2, 2_800, 250, { errors: 2 }),
    ];
    const result = summarizeLifecycle(runs, { tasksPerSide: 1_000, rounds: 3, cores: 2 });
    expect(result.batch).toMatchObject({ rounds: 3, tasks: 3_000, completed: 3_000, errors: 2, acceptedPerSecond: 2_800, completedPerSecond: 250, requestP50Ms: 120, listRequests: 45 });
    expect(result.single).toMatchObject({ rounds: 3, concurrency: 16, acceptedPerSecond: 310, completedPerSecond: 210 });
    expect(result.ratio).toEqual({ accepted: 9.03, completed: 1.19 });
    expect(result.met).toEqual({ accepted: true, completed: false });
    // Calls summed over the rounds, per completed task: a batch of 100 makes 4 BatchWriteItem and 10 SendMessageBatch.
    expect(result.batch.calls.tasks).toBe(3_000);
    expect(result.batch.calls.byCall['DynamoDB BatchWriteItem']).toBeCloseTo(0.04);
    expect(result.batch.calls.lambda.api).toBeCloseTo(45 / 3_000);
    expect(result.single.calls.lambda.byFunction['doozer-local-worker']).toBe(1);
    // CPU summed over the rounds: 3 × 2,000 ms of serverless-offline for 3,000 tasks.
    expect(result.batch.cpu.whole).toMatchObject({ benchMsPerOp: 1, offlineMsPerOp: 2, coresBusy: 1.5 });
    // The worker's invocations: 3 × 8,000 busy ms over 1000/260 + 1000/240 + 1000/250 s; the most at once of any round.
    expect(result.batch.workers).toMatchObject({ invocations: 3_000, busyMs: 24_000, meanMs: 8, peakInFlight: 4, perSecond: 250 });
    expect(result.batch.workers.meanInFlight).toBeCloseTo(24_000 / (1000 / 0.26 + 1000 / 0.24 + 1000 / 0.25), 2);
  });

  it('takes the mean of the middle two for an even number of rounds', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });
});

describe('lifecycleSection (bench report)', () => {
  it('writes both sides, the ratios against the 4× target, each round, and the work per task', () => {
    const result = summarizeLifecycle([run('single', 0, 300, 200), run('batch', 0, 3_000, 260), run('batch', 1, 2_400, 240), run('single', 1, 330, 230)], {
      tasksPerSide: 1_000,
      rounds: 2,
      cores: 2,
    });
    const markdown = lifecycleSection(result, 16).join('\n');
    expect(markdown).toContain('| Batches: `POST /tasks/batch` of 100, c=4 | 2000 | 0 | 120.0 | 0.38 | 2700 | 4.01 | 250 | 1.00 | 30 |');
    expect(markdown).toContain('| Single: `POST /tasks?wait=0`, c=16 | 2000 | 0 | 40.0 | 3.18 | 315 | 4.67 | 215 | 1.00 | 30 |');
    expect(markdown).toContain('| **Batches ÷ single** (target 4×) | | | | | **8.57×** (met) | | **1.16×** (not met) | | |');
    expect(markdown).toContain('| 2 | batch | 2400 | 240 | 1.00 | 0 |');
    expect(markdown).toContain('| records per doozer-local-worker invocation | 1.00 | 1.00 |');
    expect(markdown).toContain('| Lambda: api (one per API request, list requests included) | 0.015 | 1.005 |');
    expect(markdown).toContain('| invocations | 2000 | 2000 |');
    expect(markdown).toContain('| per s, first request to last SUCCESS (median of the rounds) | 250 | 215 |');
    expect(markdown).toContain('| at once: mean / most | 2.00 / 3 | 1.71 / 3 |');
  });
});
