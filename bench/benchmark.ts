import { availableParallelism } from 'node:os';
import { startBenchStack } from './bench-stack.ts';
import { CallCounter, type PerTaskCalls, perTask } from './call-counter.ts';
import { CpuMeter, type PhaseCpu, phaseCpu } from './cpu.ts';
import { BATCH_CONCURRENCY, type LifecycleResult } from './lifecycle-figures.ts';
import { measureLifecycle } from './lifecycle.ts';
import { type LatencySummary, type LoopResult, type Outcome, runClosedLoop, summarize } from './load.ts';
import { type LoginFloodResult, measureLoginFlood } from './login-flood.ts';
import { login, operations } from './operations.ts';
import { type StartupResult, measureStartup } from './startup.ts';
import { type Ceiling, type UnitCosts, ceilingFromUnitCosts, measureUnitCosts } from './unit-costs.ts';
import type { WebhookResult } from './webhooks-figures.ts';
import { measureWebhooks } from './webhooks.ts';

/** How much load each phase sends. `npm run bench` uses FULL_COUNTS; `--quick` QUICK_COUNTS. */
export interface BenchCounts {
  /** Sync tasks and floor requests sent before measuring, at c=1 and again at the throughput concurrency. */
  readonly warmup: number;
  /** Floor requests at c=1. */
  readonly floor: number;
  /** Sync tasks at c=1. */
  readonly sync: number;
  /** Sync tasks (and as many floor requests) at `concurrency`. */
  readonly throughput: number;
  /** Deferred tasks (202, then lookups until SUCCESS) at c=1. */
  readonly deferred: number;
  readonly concurrency: number;
  /** Calls of each kind for the unit costs (one SDK call, client and emulator side), at `concurrency`. */
  readonly unitCalls: number;
  /** Times `npm start` is started and stopped to time it, before the rest. */
  readonly startupRuns: number;
  /** Sync tasks at c=1 timed idle, then during each login flood. */
  readonly flood: number;
  /** Add tasks per side and round of the lifecycle phase: as batches of 100 at c=4, and one by one (`?wait=0`) at `concurrency`. */
  readonly lifecycle: number;
  /** Rounds of the lifecycle phase, each running both sides (alternating which goes first); the report takes medians. */
  readonly lifecycleRounds: number;
  /** Sync tasks at c=1 per side and round of the webhooks phase: without a callbackUrl, and with one to a receiver on loopback. */
  readonly webhooks: number;
  /** Sync tasks at c=1 per side and round of the webhooks phase's paced pass (each once the stack is quiet). */
  readonly webhooksPaced: number;
  /** Rounds of the webhooks phase, each running both sides (alternating which goes first); the report takes medians. */
  readonly webhookRounds: number;
}

export const FULL_COUNTS: BenchCounts = { warmup: 100, floor: 2_000, sync: 1_000, throughput: 5_000, deferred: 200, concurrency: 16, unitCalls: 2_000, startupRuns: 3, flood: 300, lifecycle: 2_000, lifecycleRounds: 3, webhooks: 500, webhooksPaced: 200, webhookRounds: 3 };
export const QUICK_COUNTS: BenchCounts = { warmup: 20, floor: 200, sync: 100, throughput: 500, deferred: 30, concurrency: 16, unitCalls: 200, startupRuns: 1, flood: 50, lifecycle: 400, lifecycleRounds: 1, webhooks: 100, webhooksPaced: 30, webhookRounds: 1 };

/** Callers of each login flood. */
const FLOOD_CONCURRENCY = 8;

export interface BenchOptions {
  readonly counts: BenchCounts;
  /** Bound of each phase in seconds: a phase that runs longer stops and is marked truncated. */
  readonly maxPhaseSeconds: number;
  /** A request with no answer within this many ms is an error. */
  readonly requestTimeoutMs: number;
  /** Keep serverless-offline's per-request log lines (as `npm start` prints them). */
  readonly offlineLog: boolean;
  readonly log: (line: string) => void;
}

export interface LatencyPhase extends LatencySummary {
  readonly concurrency: number;
  readonly attempted: number;
  /** Operations that ended as expected (200 with the right result; for the deferred path, SUCCESS). */
  readonly completed: number;
  readonly errors: number;
  readonly errorSamples: Record<string, number>;
  readonly seconds: number;
  /** Completed operations per second of the phase's wall-clock time. */
  readonly perSecond: number;
  readonly truncated: boolean;
  /** This phase against the floor at the same concurrency: p50 and p99 as multiples, throughput as a fraction. */
  readonly toFloor?: { readonly p50: number; readonly p99: number; readonly perSecond: number };
  /** CPU per completed operation, by process, over the phase. */
  readonly cpu: PhaseCpu;
}

export interface BenchResult {
  readonly startedAt: string;
  readonly counts: BenchCounts;
  readonly offlineLog: boolean;
  /** Seconds from calling startLocalStack to the API answering /health with the workers started. */
  readonly stackReadySeconds: number;
  /** `npm start` as a newcomer runs it, timed to /health and to its banner, on an idle machine. */
  readonly startup: StartupResult;
  readonly floor: { readonly c1: LatencyPhase; readonly concurrent: LatencyPhase };
  readonly sync: { readonly c1: LatencyPhase; readonly concurrent: LatencyPhase };
  /** POST ?wait=0 (202), then GET /tasks/<id>?wait=5 until SUCCESS: time from the POST to the SUCCESS answer. */
  readonly deferred: LatencyPhase & { readonly lookupsPerTask: number };
  /** Calls per task, counted over each phase. `sync.c1` is the headline. */
  readonly calls: {
    readonly floorC1: PerTaskCalls;
    readonly syncC1: PerTaskCalls;
    readonly syncConcurrent: PerTaskCalls;
    readonly deferred: PerTaskCalls;
  };
  /** What one SDK call costs, client and emulator side, at the throughput concurrency. */
  readonly unitCosts: UnitCosts;
  /** The CPU ceiling built up from the unit costs and the counted calls, per sync phase. */
  readonly ceiling: { readonly syncC1: Ceiling; readonly syncConcurrent: Ceiling };
  /** Sync task latency during floods of failed logins, against idle, in one run. */
  readonly loginFlood: LoginFloodResult;
  /**
   * Tasks accepted and completed per second through `POST /tasks/batch` (100 a batch, c=4) against
   * single `POST /tasks?wait=0` (at `concurrency`), the same number of tasks each, in the same run.
   */
  readonly lifecycle: LifecycleResult;
  /**
   * Sync tasks at c=1 with a callbackUrl against without, in the same run (p50 and p99 ratios), and
   * the deliveries: all of them, signed, once each, and how long after the 200.
   */
  readonly webhooks: WebhookResult;
}

/**
 * Starts the local stack as `npm start` does (emulators and the event-source pollers in this
 * process, serverless-offline as a child) on free loopback ports, with the floor function and the
 * calls counted (startBenchStack), then runs the phases one after the other and stops the stack.
 */
export async function runBenchmark(options: BenchOptions): Promise<BenchResult> {
  const { counts, log } = options;
  const startedAt = new Date().toISOString();
  const counter = new CallCounter();
  // First, while nothing else of the bench runs.
  log(`npm start: ${counts.startupRuns} timed starts`);
  const startup = await measureStartup(counts.startupRuns, log);
  const t0 = performance.now();
  const bench = await startBenchStack({
    observe: counter.observer,
    sockets: Math.max(counts.concurrency, BATCH_CONCURRENCY, 1),
    requestTimeoutMs: options.requestTimeoutMs,
    offlineLog: options.offlineLog,
    log,
  });
  const stackReadySeconds = round((performance.now() - t0) / 1000, 2);
  const { client } = bench;
  try {
    const token = await login(client, bench.settings.devUser);
    const call = (method: 'GET' | 'POST', path: string, body?: unknown) => {
      counter.countApiRequest();
      return client.send(method, path, { body, token });
    };
    const ops = operations(call);
    const cpu = await CpuMeter.find();
    const cores = availableParallelism();
    const phase = async (name: string, count: number, concurrency: number, operation: (index: number) => Promise<Outcome>) => {
      log(`${name}: ${count} at c=${concurrency}`);
      const before = await cpu.sample();
      const result = await runClosedLoop({ count, concurrency, maxMs: options.maxPhaseSeconds * 1000, operation });
      const after = await cpu.sample();
      return { ...result, cpu: phaseCpu(before, after, result.latenciesMs.length, result.elapsedMs, cores) };
    };
    const counted = async <T>(run: () => Promise<T>, tasks: (result: T) => number) => {
      await counter.settle();
      const before = counter.snapshot();
      const result = await run();
      await counter.settle();
      return { result, calls: perTask(before, counter.snapshot(), tasks(result)) };
    };

    // Warm-up: JIT, the handlers' first imports, sockets, the emulators' first tables and queues.
    const { warmup, concurrency } = counts;
    for (const [name, operation] of [['warm-up sync', ops.sync], ['warm-up floor', ops.floor]] as const) {
      await phase(`${name}`, warmup, 1, operation);
      await phase(`${name}`, warmup, concurrency, operation);
    }

    const floorC1 = await counted(() => phase('floor', counts.floor, 1, ops.floor), (r) => r.latenciesMs.length);
    const syncC1 = await counted(() => phase('sync', counts.sync, 1, ops.sync), (r) => r.latenciesMs.length);
    const floorConcurrent = await phase('floor', counts.throughput, concurrency, ops.floor);
    const syncConcurrent = await counted(() => phase('sync', counts.throughput, concurrency, ops.sync), (r) => r.latenciesMs.length);
    let lookups = 0;
    const deferred = await counted(
      () => phase('deferred', counts.deferred, 1, (index) => ops.deferred(index, () => (lookups += 1))),
      (r) => r.latenciesMs.length,
    );

    // Batches against single submissions, both answered without waiting, then listed until SUCCESS.
    const lifecycle = await measureLifecycle({
      call,
      counter,
      cpu,
      cores,
      tasks: counts.lifecycle,
      rounds: counts.lifecycleRounds,
      warmup: counts.warmup,
      singleConcurrency: concurrency,
      maxMs: options.maxPhaseSeconds * 1000,
      log,
    });

    // Sync tasks with a completion webhook against without; each side's deliveries awaited before the next.
    const webhooks = await measureWebhooks({
      call,
      counter,
      tasks: counts.webhooks,
      pacedTasks: counts.webhooksPaced,
      rounds: counts.webhookRounds,
      warmup: counts.warmup,
      maxMs: options.maxPhaseSeconds * 1000,
      log,
    });

    // After every counted phase: the flood fills the login-attempt items of the table.
    const loginFlood = await measureLoginFlood({
      apiUrl: bench.settings.apiUrl,
      tasks: counts.flood,
      concurrency: FLOOD_CONCURRENCY,
      maxMs: options.maxPhaseSeconds * 1000,
      syncTask: ops.sync,
      log,
    });

    const unitCosts = await measureUnitCosts(bench.settings, { calls: counts.unitCalls, concurrency, log });

    const floor = { c1: latencyPhase(floorC1.result, 1), concurrent: latencyPhase(floorConcurrent, concurrency) };
    return {
      startedAt,
      counts,
      offlineLog: options.offlineLog,
      stackReadySeconds,
      startup,
      floor,
      sync: {
        c1: latencyPhase(syncC1.result, 1, floor.c1),
        concurrent: latencyPhase(syncConcurrent.result, concurrency, floor.concurrent),
      },
      deferred: {
        ...latencyPhase(deferred.result, 1, floor.c1),
        lookupsPerTask: round(lookups / Math.max(deferred.result.attempted, 1), 2),
      },
      calls: { floorC1: floorC1.calls, syncC1: syncC1.calls, syncConcurrent: syncConcurrent.calls, deferred: deferred.calls },
      unitCosts,
      ceiling: {
        syncC1: ceilingFromUnitCosts(unitCosts, syncC1.calls, floor.c1.cpu, cores),
        syncConcurrent: ceilingFromUnitCosts(unitCosts, syncConcurrent.calls, floor.concurrent.cpu, cores),
      },
      loginFlood,
      lifecycle,
      webhooks,
    };
  } finally {
    log('stopping the local stack');
    await bench.stop();
  }
}

function latencyPhase(result: LoopResult & { cpu: PhaseCpu }, concurrency: number, floor?: LatencyPhase): LatencyPhase {
  const summary = summarize(result.latenciesMs);
  const seconds = result.elapsedMs / 1000;
  const perSecond = round(result.latenciesMs.length / seconds, 1);
  return {
    concurrency,
    attempted: result.attempted,
    completed: result.latenciesMs.length,
    errors: result.errors,
    errorSamples: result.errorSamples,
    seconds: round(seconds, 2),
    perSecond,
    truncated: result.truncated,
    ...summary,
    cpu: result.cpu,
    ...(floor && {
      toFloor: {
        p50: round(summary.p50 / floor.p50, 2),
        p99: round(summary.p99 / floor.p99, 2),
        perSecond: round(perSecond / floor.perSecond, 3),
      },
    }),
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
