import { RESOURCE_NAMES } from '../local/settings.ts';
import { type CallCounter, perTask } from './call-counter.ts';
import type { CpuMeter, CpuSample } from './cpu.ts';
import {
  BATCH_CONCURRENCY,
  BATCH_SIZE,
  type CpuSpan,
  type LifecycleResult,
  type LifecycleRun,
  type LifecycleSideName,
  cpuOf,
  round1,
  round3,
  summarizeLifecycle,
  workerFigures,
} from './lifecycle-figures.ts';
import { type ListPage, type ListedTask, watchCompletion } from './lifecycle-watch.ts';
import { type Call, type Outcome, runClosedLoop, summarize } from './load.ts';

/**
 * The task lifecycle through batches against single submissions (issue 12): the same number of
 * add tasks sent as `POST /tasks/batch` of 100 at c=4, and as `POST /tasks?wait=0` one at a time at
 * the throughput concurrency (16), both answered without waiting. For each side: tasks accepted
 * per second of the submission, and tasks completed (SUCCESS with the right sum) per second from
 * the first submission to the last task's SUCCESS. Rounds alternate the order of the sides
 * (single then batches, batches then single, …) and the report takes medians of the rounds.
 *
 * Completion is read through the API, by listing (lifecycle-watch.ts). When the last task is SUCCESS
 * is the latest `updatedAt` of the side's tasks: the worker's clock at its SUCCESS write, the same
 * machine's clock as the bench's, so the figure does not depend on when the list saw it.
 */

export interface LifecycleOptions {
  readonly call: Call;
  readonly counter: CallCounter;
  readonly cpu: CpuMeter;
  readonly cores: number;
  /** Tasks per side per round. */
  readonly tasks: number;
  readonly rounds: number;
  /** Tasks of each side run first to warm the batch and list paths up; not reported. */
  readonly warmup: number;
  /** Callers of the single side. */
  readonly singleConcurrency: number;
  /** Time bound of each side (submissions and watch together). */
  readonly maxMs: number;
  readonly log: (line: string) => void;
}

/** Sends one side's tasks, then watches them to completion, measuring both. */
async function runSide(side: LifecycleSideName, round: number, tasks: number, options: LifecycleOptions): Promise<LifecycleRun> {
  const { call, counter, cpu, cores } = options;
  const concurrency = side === 'batch' ? BATCH_CONCURRENCY : options.singleConcurrency;
  const tasksPerRequest = side === 'batch' ? BATCH_SIZE : 1;
  const requests = Math.ceil(tasks / tasksPerRequest);
  const expected = new Map<string, unknown>();
  const errorSamples: Record<string, number> = {};
  let refused = 0;
  const refuse = (error: string, count: number) => {
    refused += count;
    if (error in errorSamples || Object.keys(errorSamples).length < 5) errorSamples[error] = (errorSamples[error] ?? 0) + count;
  };
  const addBody = (index: number) => ({ name: 'add', args: [index, 1] });

  const operation = async (request: number): Promise<Outcome> => {
    if (side === 'single') {
      const answer = await call('POST', '/tasks?wait=0', addBody(request));
      const task = answer.status === 202 ? (JSON.parse(answer.body) as { id?: string }) : undefined;
      if (!task?.id) {
        refuse(`POST /tasks?wait=0 answered ${answer.status}: ${answer.body.slice(0, 120)}`, 1);
        return { ok: false, error: `POST /tasks?wait=0 answered ${answer.status}` };
      }
      expected.set(task.id, request + 1);
      return { ok: true };
    }
    const first = request * BATCH_SIZE;
    const indexes = Array.from({ length: Math.min(BATCH_SIZE, tasks - first) }, (_, offset) => first + offset);
    const answer = await call('POST', '/tasks/batch', { tasks: indexes.map(addBody) });
    if (answer.status !== 200) {
      refuse(`POST /tasks/batch answered ${answer.status}: ${answer.body.slice(0, 120)}`, indexes.length);
      return { ok: false, error: `POST /tasks/batch answered ${answer.status}` };
    }
    const { results } = JSON.parse(answer.body) as { results: ({ task: { id: string } } | { error: { code: string; message: string } })[] };
    let itemErrors = 0;
    indexes.forEach((index, position) => {
      const result = results[position];
      if (result && 'task' in result) expected.set(result.task.id, index + 1);
      else {
        itemErrors += 1;
        refuse(`a batch item was refused: ${JSON.stringify(result ?? 'missing').slice(0, 120)}`, 1);
      }
    });
    return itemErrors === 0 ? { ok: true } : { ok: false, error: `${itemErrors} items of a batch refused` };
  };

  await counter.settle();
  const callsBefore = counter.snapshot();
  counter.resetPeaks();
  const timingBefore = counter.invocationTiming();
  const cpu0 = await cpu.sample();
  const wallStart = Date.now();
  const t0 = performance.now();
  const submitted = await runClosedLoop({ count: requests, concurrency, maxMs: options.maxMs, operation });
  const wallSubmitEnd = wallStart + submitted.elapsedMs;
  const cpu1 = await cpu.sample();
  const listPage: ListPage = async (limit, cursor) => {
    const query = `/tasks?limit=${limit}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const answer = await call('GET', query);
    if (answer.status !== 200) throw new Error(`GET /tasks answered ${answer.status}: ${answer.body.slice(0, 120)}`);
    return JSON.parse(answer.body) as { tasks: ListedTask[]; next: string | null };
  };
  const completion = await watchCompletion({ expected, listPage, deadline: t0 + options.maxMs });
  const cpu2 = await cpu.sample();
  await counter.settle();
  const calls = perTask(callsBefore, counter.snapshot(), completion.completed);
  const timingAfter = counter.invocationTiming();

  const accepted = expected.size;
  const submitSeconds = submitted.elapsedMs / 1000;
  const lastSuccess = completion.lastSuccessMs ?? wallSubmitEnd;
  const completeSeconds = Math.max(lastSuccess - wallStart, 0) / 1000;
  const merged = { ...errorSamples };
  for (const [error, count] of Object.entries(completion.errorSamples)) {
    if (error in merged || Object.keys(merged).length < 5) merged[error] = (merged[error] ?? 0) + count;
  }
  const span = (before: CpuSample, after: CpuSample, wallMs: number, operations: number): CpuSpan => ({
    benchMs: after.benchMs - before.benchMs,
    offlineMs: after.offlineMs === undefined || before.offlineMs === undefined ? undefined : after.offlineMs - before.offlineMs,
    wallMs,
    operations,
  });
  const cpuMs = {
    submit: span(cpu0, cpu1, submitted.elapsedMs, accepted),
    whole: span(cpu0, cpu2, completion.seenAt - t0, completion.completed),
  };
  return {
    side,
    round,
    concurrency,
    tasksPerRequest,
    tasks,
    requests: submitted.attempted,
    accepted,
    completed: completion.completed,
    errors: refused + completion.errors,
    errorSamples: merged,
    truncated: submitted.truncated || completion.truncated,
    submitSeconds: round3(submitSeconds),
    acceptedPerSecond: round1(accepted / submitSeconds),
    completeSeconds: round3(completeSeconds),
    completedPerSecond: round1(completeSeconds > 0 ? completion.completed / completeSeconds : Number.NaN),
    drainSeconds: round3(Math.max(lastSuccess - wallSubmitEnd, 0) / 1000),
    seenSeconds: round3((completion.seenAt - t0) / 1000),
    request: summarize(submitted.latenciesMs),
    listRequests: completion.listRequests,
    cpu: { submit: cpuOf(cpuMs.submit, cores), whole: cpuOf(cpuMs.whole, cores) },
    cpuMs,
    calls,
    workers: workerFigures(
      (timingAfter.ended[WORKER] ?? 0) - (timingBefore.ended[WORKER] ?? 0),
      (timingAfter.busyMs[WORKER] ?? 0) - (timingBefore.busyMs[WORKER] ?? 0),
      completeSeconds,
      timingAfter.peakInFlight[WORKER] ?? 0,
    ),
  };
}

const WORKER = RESOURCE_NAMES.workerFunction;

/**
 * Runs `rounds` rounds of both sides, alternating which goes first (single first in even rounds),
 * after a warm-up of each side that is not reported.
 */
export async function measureLifecycle(options: LifecycleOptions): Promise<LifecycleResult> {
  const { log, tasks, rounds } = options;
  if (options.warmup > 0) {
    for (const side of ['batch', 'single'] as const) {
      log(`lifecycle warm-up: ${options.warmup} tasks, ${side}`);
      await runSide(side, -1, options.warmup, options);
    }
  }
  const runs: LifecycleRun[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const order: LifecycleSideName[] = round % 2 === 0 ? ['single', 'batch'] : ['batch', 'single'];
    for (const side of order) {
      const concurrency = side === 'batch' ? BATCH_CONCURRENCY : options.singleConcurrency;
      log(
        `lifecycle round ${round + 1}/${rounds}: ${tasks} tasks, ${side === 'batch' ? `batches of ${BATCH_SIZE}` : 'single POST /tasks?wait=0'} at c=${concurrency}, then listed until SUCCESS`,
      );
      const run = await runSide(side, round, tasks, options);
      log(
        `lifecycle round ${round + 1}/${rounds} ${side}: accepted ${run.acceptedPerSecond}/s, completed ${run.completedPerSecond}/s, ` +
          `${run.errors} errors, ${run.listRequests} list requests`,
      );
      runs.push(run);
    }
  }
  return summarizeLifecycle(runs, { tasksPerSide: tasks, rounds, cores: options.cores });
}
