import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCE_NAMES } from '../local/settings.ts';
import { type CallCounter, type PerTaskCalls, ZERO_COUNTS, perTask, sumCounts } from './call-counter.ts';
import { type CpuMeter, type CpuSample, type PhaseCpu, phaseCpu } from './cpu.ts';
import { type Call, type LatencySummary, type Outcome, runClosedLoop, summarize } from './load.ts';

/**
 * The task lifecycle through batches against single submissions (issue 12): the same number of
 * add tasks sent as `POST /tasks/batch` of 100 at c=4, and as `POST /tasks?wait=0` one at a time at
 * the throughput concurrency (16), both answered without waiting. For each side: tasks accepted
 * per second of the submission, and tasks completed (SUCCESS with the right sum) per second from
 * the first submission to the last task's SUCCESS. Rounds alternate the order of the sides
 * (single then batches, batches then single, …) and the report takes medians of the rounds.
 *
 * Completion is read through the API, by listing: `GET /tasks?limit=…` newest first, whose first
 * N tasks are the side's N (nothing else submits meanwhile). Once the submissions have answered,
 * the list is walked once (N/100 requests), keeping each page's cursor; then, every
 * POLL_INTERVAL_MS, the oldest page that still held an open task is read again, and the next
 * one at once if that page is now done, until a page is still open (tasks finish roughly in
 * the order they were queued, so a round is usually one request). When the last task is SUCCESS
 * is the latest `updatedAt` of the side's tasks: the worker's clock at its SUCCESS write, the same
 * machine's clock as the bench's, so the figure does not depend on when the list saw it.
 */

/** Tasks per `POST /tasks/batch` (the API's limit) and the callers posting them. */
export const BATCH_SIZE = 100;
export const BATCH_CONCURRENCY = 4;
/** The issue's target: batches at least 4× single submissions, for tasks accepted and completed per second. */
export const LIFECYCLE_TARGET = 4;
/** Pause between two rounds of the list watcher. */
export const POLL_INTERVAL_MS = 200;
/** Tasks per page of `GET /tasks` (the API's most). */
const LIST_PAGE = 100;

export type LifecycleSideName = 'batch' | 'single';

/** One side of one round. */
export interface LifecycleRun {
  readonly side: LifecycleSideName;
  readonly round: number;
  readonly concurrency: number;
  readonly tasksPerRequest: number;
  /** Tasks sent. */
  readonly tasks: number;
  /** Submission requests answered (batches, or single POSTs). */
  readonly requests: number;
  /** Tasks the API acknowledged: a 202 with an id, or a batch item with a task. */
  readonly accepted: number;
  /** Tasks listed SUCCESS with the right sum. */
  readonly completed: number;
  /** Tasks not accepted, ended otherwise than SUCCESS with the right sum, or still open at the time bound. */
  readonly errors: number;
  readonly errorSamples: Record<string, number>;
  /** True when the time bound stopped the submissions or the watch. */
  readonly truncated: boolean;
  /** First submission sent → last submission answered. */
  readonly submitSeconds: number;
  readonly acceptedPerSecond: number;
  /** First submission sent → the latest `updatedAt` (SUCCESS) of the side's tasks. */
  readonly completeSeconds: number;
  readonly completedPerSecond: number;
  /** Last submission answered → the latest SUCCESS: how long the workers ran on after the API had answered. */
  readonly drainSeconds: number;
  /** First submission sent → the list answer that showed the last task done (bounds the watcher's lag). */
  readonly seenSeconds: number;
  /** Latency of one submission request (a batch of 100, or one task). */
  readonly request: LatencySummary;
  /** `GET /tasks` requests the watcher made. */
  readonly listRequests: number;
  /** CPU by process over the submissions (per accepted task) and from the first submission to the last task seen done (per completed task). */
  readonly cpu: { readonly submit: PhaseCpu; readonly whole: PhaseCpu };
  /** Raw CPU ms and wall ms behind `cpu`, so rounds can be summed. */
  readonly cpuMs: { readonly submit: CpuSpan; readonly whole: CpuSpan };
  /** Calls per completed task over the side (including the watcher's list requests and their Query). */
  readonly calls: PerTaskCalls;
  /** The worker function's invocations by the event source over the side. */
  readonly workers: WorkerFigures;
}

/**
 * The worker's invocations by the SQS event source (one receive loop per queue, up to 16
 * invocations at once), timed in the bench process from the call to serverless-offline's Lambda
 * API to its answer.
 */
export interface WorkerFigures {
  readonly invocations: number;
  /** Their summed duration. */
  readonly busyMs: number;
  readonly meanMs: number;
  /** Invocations running at once on average over the completion time (first request to last SUCCESS): busy ms ÷ that time. */
  readonly meanInFlight: number;
  /** The most running at once. */
  readonly peakInFlight: number;
  /** Invocations per second of the completion time (the median of the rounds, in a summary). */
  readonly perSecond: number;
}

export interface CpuSpan {
  readonly benchMs: number;
  readonly offlineMs: number | undefined;
  readonly wallMs: number;
  readonly operations: number;
}

/** One side over every round: medians of the rounds, sums of the counts. */
export interface LifecycleSideSummary {
  readonly concurrency: number;
  readonly tasksPerRequest: number;
  readonly rounds: number;
  readonly tasks: number;
  readonly accepted: number;
  readonly completed: number;
  readonly errors: number;
  readonly truncated: boolean;
  /** Medians of the rounds. */
  readonly acceptedPerSecond: number;
  readonly completedPerSecond: number;
  readonly submitSeconds: number;
  readonly completeSeconds: number;
  readonly drainSeconds: number;
  /** Median over the rounds of each round's p50 submission request latency, in ms. */
  readonly requestP50Ms: number;
  readonly listRequests: number;
  /** CPU summed over the rounds: per accepted task over the submissions, per completed task over the whole. */
  readonly cpu: { readonly submit: PhaseCpu; readonly whole: PhaseCpu };
  /** Calls per completed task, summed over the rounds. */
  readonly calls: PerTaskCalls;
  /** The worker's invocations, summed over the rounds (the most at once: the largest of the rounds). */
  readonly workers: WorkerFigures;
}

export interface LifecycleResult {
  /** Tasks per side per round. */
  readonly tasksPerSide: number;
  readonly rounds: number;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly target: number;
  /** Every side of every round, in the order they ran. */
  readonly runs: readonly LifecycleRun[];
  readonly batch: LifecycleSideSummary;
  readonly single: LifecycleSideSummary;
  /** Batch over single, of the medians. */
  readonly ratio: { readonly accepted: number; readonly completed: number };
  /** Whether each ratio reaches the target. */
  readonly met: { readonly accepted: boolean; readonly completed: boolean };
}

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

interface ListedTask {
  readonly id: string;
  readonly state: string;
  readonly result?: unknown;
  readonly updatedAt: string;
}

export type ListPage = (limit: number, cursor: string | undefined) => Promise<{ tasks: readonly ListedTask[]; next: string | null }>;

export interface Completion {
  /** Tasks listed SUCCESS with the expected result. */
  readonly completed: number;
  /** Tasks ended otherwise, or with another result, or not the side's; and tasks still open at the deadline. */
  readonly errors: number;
  readonly errorSamples: Record<string, number>;
  readonly open: number;
  /** Epoch ms of the latest `updatedAt` among the tasks listed SUCCESS. */
  readonly lastSuccessMs: number | undefined;
  /** performance.now() of the list answer that showed the last open task ended. */
  readonly seenAt: number;
  readonly listRequests: number;
  readonly truncated: boolean;
}

const TERMINAL = new Set(['SUCCESS', 'FAILURE', 'CANCELLED']);

/**
 * Waits until every task of `expected` (id → its result) has ended, reading the newest
 * `expected.size` tasks of the caller's list (see the module's comment for how few requests it
 * makes). `deadline` is a performance.now() time: tasks still open then are errors.
 */
export async function watchCompletion(options: {
  readonly expected: ReadonlyMap<string, unknown>;
  readonly listPage: ListPage;
  readonly deadline: number;
  readonly intervalMs?: number;
  readonly pageSize?: number;
}): Promise<Completion> {
  const { expected, listPage, deadline } = options;
  const intervalMs = options.intervalMs ?? POLL_INTERVAL_MS;
  const pageSize = options.pageSize ?? LIST_PAGE;
  const errorSamples: Record<string, number> = {};
  let errors = 0;
  let completed = 0;
  let lastSuccessMs: number | undefined;
  let listRequests = 0;
  let seenAt = performance.now();
  const fail = (error: string, count = 1) => {
    errors += count;
    if (error in errorSamples || Object.keys(errorSamples).length < 5) errorSamples[error] = (errorSamples[error] ?? 0) + count;
  };
  const ended = new Set<string>();
  /** Reads one page; returns its tasks' ids still open, or undefined if the page cannot be read. */
  const read = async (limit: number, cursor: string | undefined) => {
    listRequests += 1;
    const page = await listPage(limit, cursor);
    seenAt = performance.now();
    const open: string[] = [];
    for (const task of page.tasks.slice(0, limit)) {
      if (!expected.has(task.id)) {
        fail('GET /tasks listed a task that this side did not submit among its newest');
        ended.add(task.id);
        continue;
      }
      if (ended.has(task.id)) continue;
      if (!TERMINAL.has(task.state)) {
        open.push(task.id);
        continue;
      }
      ended.add(task.id);
      const want = expected.get(task.id);
      if (task.state === 'SUCCESS' && task.result === want) {
        completed += 1;
        const at = Date.parse(task.updatedAt);
        if (Number.isFinite(at)) lastSuccessMs = Math.max(lastSuccessMs ?? at, at);
      } else {
        fail(`a task ended ${task.state} with ${JSON.stringify(task.result)}, expected SUCCESS with ${JSON.stringify(want)}`);
      }
    }
    return { open, tasks: Math.min(page.tasks.length, limit), next: page.next };
  };

  // The walk: every page once, newest first, keeping the cursor that reads each page again.
  const pages: { cursor: string | undefined; limit: number; open: number }[] = [];
  let cursor: string | undefined;
  let listed = 0;
  while (listed < expected.size) {
    const limit = Math.min(pageSize, expected.size - listed);
    const page = await read(limit, cursor);
    pages.push({ cursor, limit, open: page.open.length });
    listed += page.tasks;
    if (page.tasks < limit || page.next === null) break;
    cursor = page.next;
  }
  if (listed < expected.size) fail('GET /tasks listed fewer tasks than this side submitted', expected.size - listed);

  // Then the oldest page still open, and the ones after it while they are found done.
  let truncated = false;
  for (;;) {
    const oldestOpen = pages.findLastIndex((page) => page.open > 0);
    if (oldestOpen < 0) break;
    if (performance.now() >= deadline) {
      truncated = true;
      break;
    }
    await sleep(intervalMs);
    for (let index = oldestOpen; index >= 0; index -= 1) {
      const page = pages[index]!;
      if (page.open === 0) continue;
      page.open = (await read(page.limit, page.cursor)).open.length;
      if (page.open > 0) break;
    }
  }
  const open = pages.reduce((sum, page) => sum + page.open, 0);
  if (open > 0) fail('a task was still open at the time bound', open);
  return { completed, errors, errorSamples, open, lastSuccessMs, seenAt, listRequests, truncated };
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
  const submitEnd = t0 + submitted.elapsedMs;
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

function workerFigures(invocations: number, busyMs: number, seconds: number, peakInFlight: number, perSecond?: number): WorkerFigures {
  return {
    invocations,
    busyMs: Math.round(busyMs),
    meanMs: Math.round((busyMs / Math.max(invocations, 1)) * 100) / 100,
    meanInFlight: seconds > 0 ? Math.round((busyMs / (seconds * 1000)) * 100) / 100 : Number.NaN,
    peakInFlight,
    perSecond: perSecond ?? (seconds > 0 ? round1(invocations / seconds) : Number.NaN),
  };
}

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

/** The medians of each side over its rounds, the sums of its counts, and the ratios batch ÷ single. */
export function summarizeLifecycle(runs: readonly LifecycleRun[], { tasksPerSide, rounds, cores }: { tasksPerSide: number; rounds: number; cores: number }): LifecycleResult {
  const sideOf = (side: LifecycleSideName): LifecycleSideSummary => {
    const mine = runs.filter((run) => run.side === side);
    const sum = (figure: (run: LifecycleRun) => number) => mine.reduce((total, run) => total + figure(run), 0);
    const sumSpans = (pick: (run: LifecycleRun) => CpuSpan): CpuSpan => ({
      benchMs: sum((run) => pick(run).benchMs),
      offlineMs: mine.some((run) => pick(run).offlineMs === undefined) ? undefined : sum((run) => pick(run).offlineMs ?? 0),
      wallMs: sum((run) => pick(run).wallMs),
      operations: sum((run) => pick(run).operations),
    });
    const tasks = sum((run) => run.calls.tasks);
    return {
      concurrency: mine[0]?.concurrency ?? 0,
      tasksPerRequest: mine[0]?.tasksPerRequest ?? 0,
      rounds: mine.length,
      tasks: sum((run) => run.tasks),
      accepted: sum((run) => run.accepted),
      completed: sum((run) => run.completed),
      errors: sum((run) => run.errors),
      truncated: mine.some((run) => run.truncated),
      acceptedPerSecond: round1(median(mine.map((run) => run.acceptedPerSecond))),
      completedPerSecond: round1(median(mine.map((run) => run.completedPerSecond))),
      submitSeconds: round3(median(mine.map((run) => run.submitSeconds))),
      completeSeconds: round3(median(mine.map((run) => run.completeSeconds))),
      drainSeconds: round3(median(mine.map((run) => run.drainSeconds))),
      requestP50Ms: Math.round(median(mine.map((run) => run.request.p50)) * 100) / 100,
      listRequests: sum((run) => run.listRequests),
      cpu: { submit: cpuOf(sumSpans((run) => run.cpuMs.submit), cores), whole: cpuOf(sumSpans((run) => run.cpuMs.whole), cores) },
      calls: perTask(ZERO_COUNTS, sumCounts(mine.map((run) => run.calls.counted)), tasks),
      workers: workerFigures(
        sum((run) => run.workers.invocations),
        sum((run) => run.workers.busyMs),
        sum((run) => run.completeSeconds),
        Math.max(0, ...mine.map((run) => run.workers.peakInFlight)),
        round1(median(mine.map((run) => run.workers.perSecond))),
      ),
    };
  };
  const batch = sideOf('batch');
  const single = sideOf('single');
  const ratio = {
    accepted: Math.round((batch.acceptedPerSecond / single.acceptedPerSecond) * 100) / 100,
    completed: Math.round((batch.completedPerSecond / single.completedPerSecond) * 100) / 100,
  };
  return {
    tasksPerSide,
    rounds,
    batchSize: BATCH_SIZE,
    pollIntervalMs: POLL_INTERVAL_MS,
    target: LIFECYCLE_TARGET,
    runs,
    batch,
    single,
    ratio,
    met: { accepted: ratio.accepted >= LIFECYCLE_TARGET, completed: ratio.completed >= LIFECYCLE_TARGET },
  };
}

function cpuOf(span: CpuSpan, cores: number): PhaseCpu {
  return phaseCpu({ benchMs: 0, offlineMs: 0 }, { benchMs: span.benchMs, offlineMs: span.offlineMs }, span.operations, span.wallMs, cores);
}

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
