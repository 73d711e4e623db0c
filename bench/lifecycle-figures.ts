import { type PerTaskCalls, ZERO_COUNTS, perTask, sumCounts } from './call-counter.ts';
import { type PhaseCpu, phaseCpu } from './cpu.ts';
import { POLL_INTERVAL_MS } from './lifecycle-watch.ts';
import { type LatencySummary, median } from './load.ts';

/**
 * The figures of the lifecycle phase (lifecycle.ts): what one side of one round measured, and each
 * side over its rounds (medians of the rounds, sums of the counts) against the other. Pure.
 */

/** Tasks per `POST /tasks/batch` (the API's limit) and the callers posting them. */
export const BATCH_SIZE = 100;
export const BATCH_CONCURRENCY = 4;
/** The target: batches at least 4× single submissions, for tasks accepted and completed per second. */
export const LIFECYCLE_TARGET = 4;

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

/** The worker's invocations over a completion time of `seconds`. */
export function workerFigures(invocations: number, busyMs: number, seconds: number, peakInFlight: number, perSecond?: number): WorkerFigures {
  return {
    invocations,
    busyMs: Math.round(busyMs),
    meanMs: Math.round((busyMs / Math.max(invocations, 1)) * 100) / 100,
    meanInFlight: seconds > 0 ? Math.round((busyMs / (seconds * 1000)) * 100) / 100 : Number.NaN,
    peakInFlight,
    perSecond: perSecond ?? (seconds > 0 ? round1(invocations / seconds) : Number.NaN),
  };
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

/** CPU per operation of a span (or of spans summed). */
export function cpuOf(span: CpuSpan, cores: number): PhaseCpu {
  return phaseCpu({ benchMs: 0, offlineMs: 0 }, { benchMs: span.benchMs, offlineMs: span.offlineMs }, span.operations, span.wallMs, cores);
}

export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
