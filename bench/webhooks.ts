import { setTimeout as sleep } from 'node:timers/promises';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../lib/webhooks/signing.ts';
import { startWebhookReceiver } from '../local/webhook-receiver.ts';
import { type CallCounter, type PerTaskCalls, ZERO_COUNTS, perTask, sumCounts } from './call-counter.ts';
import { median } from './lifecycle.ts';
import { type Call, type LatencySummary, type Outcome, runClosedLoop, summarize } from './load.ts';

/**
 * Completion webhooks against the sync path: does asking for a webhook slow down the answer? The
 * worker writes a task's end, then sends one message to the notifier's queue; the notifier (a
 * Lambda of its own, fed by that queue) makes the POST. So a sync task with a `callbackUrl` should
 * be answered as fast as one without; the issue's acceptance is that ratio, in one run.
 *
 * Each round runs `tasks` sync add tasks at c=1 without a callbackUrl and as many with one (to a
 * receiver in this process, on loopback), alternating which side goes first; the report takes the
 * medians of the rounds' p50 and p99 and divides. After each side with callbacks, the phase waits
 * (at most DELIVERY_WAIT_MS) until each of its tasks was delivered, so the notifier's work never
 * overlaps the next side, and checks every delivery as a receiver would: the Standard Webhooks
 * signature with the local stage's development secret (the bench's user has no secret of its own),
 * one delivery per task (at least once allows more: they are counted, not refused), and how long
 * after the 200 it arrived.
 */

/**
 * The paced pass: before each task the stack must have made no call for this long (the previous
 * task's worker, and its delivery, done), at most PACE_TIMEOUT_MS.
 */
const PACE_QUIET_MS = 20;
const PACE_TIMEOUT_MS = 2_000;

/** How long after a side's last answer its deliveries may still arrive. */
export const DELIVERY_WAIT_MS = 30_000;
/** Pause between two looks at the deliveries received while waiting for the rest. */
const DELIVERY_POLL_MS = 25;

export type WebhookSideName = 'without' | 'with';

/** One delivery as the receiver got it: when (performance.now()) and whether its signature verified. */
export interface Receipt {
  readonly at: number;
  readonly signatureValid: boolean;
}

/** The deliveries of one side's tasks, checked. */
export interface DeliveryTally {
  /** Tasks answered SUCCESS with a callbackUrl: one delivery each is due. */
  readonly expected: number;
  /** Of those, tasks received at least once with a valid signature. */
  readonly delivered: number;
  /** expected − delivered. */
  readonly missing: number;
  /** Deliveries of these tasks whose signature did not verify. */
  readonly invalidSignatures: number;
  /** Deliveries beyond the first of each task (at least once allows them; one each is expected). */
  readonly duplicates: number;
  /** Each task's first delivery, received at minus its 200 answered at, in ms. */
  readonly lagMs: LatencySummary;
}

export interface DeliveryFigures extends DeliveryTally {
  /** The side's last answer → the last delivery seen (or the end of the wait). */
  readonly waitSeconds: number;
  /** True when the wait ended at its bound with deliveries missing. */
  readonly truncated: boolean;
}

/** One side of one round. */
export interface WebhookRun {
  readonly side: WebhookSideName;
  readonly round: number;
  /** Each task sent once the stack was quiet (the paced pass), rather than back to back. */
  readonly paced: boolean;
  /** Tasks sent. */
  readonly tasks: number;
  /** Tasks answered 200 SUCCESS with the right sum. */
  readonly completed: number;
  readonly errors: number;
  readonly errorSamples: Record<string, number>;
  /** True when the time bound stopped the submissions. */
  readonly truncated: boolean;
  readonly seconds: number;
  /** Latency of the sync requests that completed, in ms. */
  readonly latency: LatencySummary;
  /** The side with callbacks only. */
  readonly delivery?: DeliveryFigures;
  /** Calls per completed task, counted from the first request to the side's deliveries settled. */
  readonly calls: PerTaskCalls;
}

/** One side over every round: medians of the rounds, sums of the counts. */
export interface WebhookSideSummary {
  readonly rounds: number;
  readonly tasks: number;
  readonly completed: number;
  readonly errors: number;
  readonly truncated: boolean;
  /** Median over the rounds of each round's p50 and p99, in ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Calls per completed task, summed over the rounds. */
  readonly calls: PerTaskCalls;
}

export interface WebhookResult {
  /** Sync tasks per side per round. */
  readonly tasksPerSide: number;
  readonly rounds: number;
  readonly deliveryWaitMs: number;
  /** Every side of every round, in the order they ran. */
  readonly runs: readonly WebhookRun[];
  readonly without: WebhookSideSummary;
  readonly with: WebhookSideSummary;
  /** With a callbackUrl ÷ without, of the medians: 1 is "adds nothing". */
  readonly ratio: { readonly p50: number; readonly p99: number };
  /**
   * The same sides paced: each task sent once the stack has gone quiet, so the previous task's
   * delivery does not share the machine's two cores with it (on AWS the notifier is a Lambda of
   * its own). What the delivery adds to the sync path itself.
   */
  readonly paced?: {
    readonly tasksPerSide: number;
    readonly without: WebhookSideSummary;
    readonly with: WebhookSideSummary;
    readonly ratio: { readonly p50: number; readonly p99: number };
  };
  /** The deliveries of every round's side with callbacks (warm-up excluded). */
  readonly delivery: {
    readonly expected: number;
    readonly delivered: number;
    readonly missing: number;
    readonly invalidSignatures: number;
    readonly duplicates: number;
    /** Deliveries of tasks the phase did not send with a callbackUrl (none is expected). */
    readonly unexpected: number;
    /** Median over the rounds of each round's lag p50 and p99, in ms. */
    readonly lagP50Ms: number;
    readonly lagP99Ms: number;
    readonly truncated: boolean;
  };
}

export interface WebhookOptions {
  readonly call: Call;
  readonly counter: CallCounter;
  /** Sync tasks per side per round. */
  readonly tasks: number;
  readonly rounds: number;
  /** Tasks of each side run first (their deliveries awaited) to warm the notifier up; not reported. */
  readonly warmup: number;
  /** Sync tasks per side per round of the paced pass (0: none). */
  readonly pacedTasks?: number;
  /** Time bound of each side's submissions. */
  readonly maxMs: number;
  /** Bound of the wait for a side's deliveries (DELIVERY_WAIT_MS). */
  readonly deliveryWaitMs?: number;
  readonly log: (line: string) => void;
}

/** Every delivery received, by task id, and the ids the phase submitted with a callbackUrl. */
class DeliveryLog {
  readonly receipts = new Map<string, Receipt[]>();
  /** Deliveries without a task id in their body: none of ours. */
  unidentified = 0;

  receive(taskId: string | undefined, receipt: Receipt): void {
    if (taskId === undefined) {
      this.unidentified += 1;
      return;
    }
    const list = this.receipts.get(taskId);
    if (list) list.push(receipt);
    else this.receipts.set(taskId, [receipt]);
  }
}

/**
 * Starts the receiver, runs a warm-up of each side, then `rounds` rounds of both sides
 * (without first in even rounds), and stops the receiver.
 */
export async function measureWebhooks(options: WebhookOptions): Promise<WebhookResult> {
  const { log, tasks, rounds } = options;
  const deliveryWaitMs = options.deliveryWaitMs ?? DELIVERY_WAIT_MS;
  const deliveries = new DeliveryLog();
  const receiver = await startWebhookReceiver({
    port: 0,
    secret: DEVELOPMENT_WEBHOOK_SECRET,
    // Its line per delivery would be thousands of lines; each delivery is tallied instead.
    log: () => {},
    onDelivery: (delivery) => deliveries.receive(delivery.taskId, { at: performance.now(), signatureValid: delivery.signatureError === undefined }),
  });
  const withCallbacks = new Set<string>();
  try {
    const side = (name: WebhookSideName, round: number, count: number, paced = false) =>
      runSide({ side: name, round, tasks: count, paced, callbackUrl: receiver.url, deliveries, withCallbacks, deliveryWaitMs, options });
    if (options.warmup > 0) {
      for (const name of ['without', 'with'] as const) {
        log(`webhooks warm-up: ${options.warmup} sync tasks ${name} a callbackUrl`);
        await side(name, -1, options.warmup);
      }
    }
    const runs: WebhookRun[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const order: WebhookSideName[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
      for (const name of order) {
        log(`webhooks round ${round + 1}/${rounds}: ${tasks} sync tasks at c=1 ${name} a callbackUrl${name === 'with' ? ` (${receiver.url}), then their deliveries` : ''}`);
        const run = await side(name, round, tasks);
        const delivered = run.delivery
          ? `; delivered ${run.delivery.delivered}/${run.delivery.expected} (${run.delivery.invalidSignatures} invalid, ${run.delivery.duplicates} duplicates), lag p50 ${run.delivery.lagMs.p50} ms`
          : '';
        log(`webhooks round ${round + 1}/${rounds} ${name}: p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, ${run.errors} errors${delivered}`);
        runs.push(run);
      }
    }
    const pacedTasks = options.pacedTasks ?? 0;
    for (let round = 0; round < (pacedTasks > 0 ? rounds : 0); round += 1) {
      const order: WebhookSideName[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
      for (const name of order) {
        log(`webhooks paced round ${round + 1}/${rounds}: ${pacedTasks} sync tasks at c=1 ${name} a callbackUrl, each once the stack is quiet`);
        const run = await side(name, round, pacedTasks, true);
        log(`webhooks paced round ${round + 1}/${rounds} ${name}: p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, ${run.errors} errors`);
        runs.push(run);
      }
    }
    const unexpected = unexpectedDeliveries(deliveries.receipts, withCallbacks) + deliveries.unidentified;
    return summarizeWebhooks(runs, { tasksPerSide: tasks, rounds, deliveryWaitMs, unexpected });
  } finally {
    await receiver.close();
  }
}

interface SideInput {
  readonly side: WebhookSideName;
  readonly round: number;
  readonly paced: boolean;
  readonly tasks: number;
  readonly callbackUrl: string;
  readonly deliveries: DeliveryLog;
  /** Every task id sent with a callbackUrl so far (warm-up included): a delivery of any other is unexpected. */
  readonly withCallbacks: Set<string>;
  readonly deliveryWaitMs: number;
  readonly options: WebhookOptions;
}

/** Sends one side's sync tasks at c=1; for the side with callbacks, waits for their deliveries. */
async function runSide(input: SideInput): Promise<WebhookRun> {
  const { side, round, tasks, callbackUrl, deliveries, options } = input;
  const { call, counter } = options;
  /** Task id → performance.now() of its 200 SUCCESS answer. */
  const answered = new Map<string, number>();
  const operation = async (index: number): Promise<Outcome> => {
    const body = { name: 'add', args: [index, 1], ...(side === 'with' && { callbackUrl }) };
    const answer = await call('POST', '/tasks', body);
    const answeredAt = performance.now();
    const task = parseTask(answer.body);
    // A task sent with a callbackUrl is delivered whatever its answer (a 202 too): not unexpected.
    if (side === 'with' && task?.id !== undefined) input.withCallbacks.add(task.id);
    if (answer.status !== 200 || task === undefined) return { ok: false, error: `POST /tasks answered ${answer.status}: ${answer.body.slice(0, 120)}` };
    if (task.state !== 'SUCCESS' || task.result !== index + 1) {
      return { ok: false, error: `POST /tasks answered ${task.state} with ${JSON.stringify(task.result)}, expected SUCCESS with ${index + 1}` };
    }
    if (task.id !== undefined) answered.set(task.id, answeredAt);
    return { ok: true };
  };

  await counter.settle();
  const before = counter.snapshot();
  const pause = input.paced ? () => counter.settle({ quietMs: PACE_QUIET_MS, timeoutMs: PACE_TIMEOUT_MS }) : undefined;
  const loop = await runClosedLoop({ count: tasks, concurrency: 1, maxMs: options.maxMs, operation, pause });
  const lastAnswer = performance.now();
  let delivery: DeliveryFigures | undefined;
  if (side === 'with') {
    const deadline = lastAnswer + input.deliveryWaitMs;
    const allIn = () => [...answered.keys()].every((id) => deliveries.receipts.has(id));
    while (!allIn() && performance.now() < deadline) await sleep(DELIVERY_POLL_MS);
    const lastReceipt = Math.max(lastAnswer, ...[...answered.keys()].map((id) => deliveries.receipts.get(id)?.[0]?.at ?? lastAnswer));
    const tally = tallyDeliveries(answered, deliveries.receipts);
    delivery = { ...tally, waitSeconds: round3((lastReceipt - lastAnswer) / 1000), truncated: tally.missing > 0 && performance.now() >= deadline };
  }
  // The notifier's writes after each POST (delivered, the message deleted) belong to this side.
  await counter.settle();
  return {
    side,
    round,
    paced: input.paced,
    tasks,
    completed: loop.latenciesMs.length,
    errors: loop.errors,
    errorSamples: loop.errorSamples,
    truncated: loop.truncated,
    seconds: round3(loop.elapsedMs / 1000),
    latency: summarize(loop.latenciesMs),
    ...(delivery && { delivery }),
    calls: perTask(before, counter.snapshot(), loop.latenciesMs.length),
  };
}

function parseTask(body: string): { id?: string; state?: string; result?: unknown } | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as { id?: string; state?: string; result?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the deliveries of one side's tasks: `answered` maps each task due a delivery to when
 * its 200 arrived (performance.now()), `receipts` holds every delivery received, by task id.
 * A task counts as delivered once a delivery of it verified; the lag is to its first delivery
 * (negative if the delivery came before the answer reached the client).
 */
export function tallyDeliveries(answered: ReadonlyMap<string, number>, receipts: ReadonlyMap<string, readonly Receipt[]>): DeliveryTally {
  let delivered = 0;
  let invalidSignatures = 0;
  let duplicates = 0;
  const lags: number[] = [];
  for (const [id, answeredAt] of answered) {
    const mine = receipts.get(id) ?? [];
    if (mine.some((receipt) => receipt.signatureValid)) delivered += 1;
    invalidSignatures += mine.filter((receipt) => !receipt.signatureValid).length;
    duplicates += Math.max(mine.length - 1, 0);
    const first = mine.reduce<number | undefined>((earliest, receipt) => Math.min(earliest ?? receipt.at, receipt.at), undefined);
    if (first !== undefined) lags.push(first - answeredAt);
  }
  return { expected: answered.size, delivered, missing: answered.size - delivered, invalidSignatures, duplicates, lagMs: summarize(lags) };
}

/** Deliveries of tasks not sent with a callbackUrl: a task without one must never be POSTed anywhere. */
export function unexpectedDeliveries(receipts: ReadonlyMap<string, readonly Receipt[]>, withCallbacks: ReadonlySet<string>): number {
  let unexpected = 0;
  for (const [id, list] of receipts) if (!withCallbacks.has(id)) unexpected += list.length;
  return unexpected;
}

/** With ÷ without, to two decimals; NaN when either is not a positive figure. */
export function ratio(value: number, baseline: number): number {
  if (!(value > 0) || !(baseline > 0)) return Number.NaN;
  return Math.round((value / baseline) * 100) / 100;
}

/** The medians of each side over its rounds, the sums of its counts, the ratios and the deliveries' totals. */
export function summarizeWebhooks(
  runs: readonly WebhookRun[],
  { tasksPerSide, rounds, deliveryWaitMs, unexpected }: { tasksPerSide: number; rounds: number; deliveryWaitMs: number; unexpected: number },
): WebhookResult {
  const sideOf = (side: WebhookSideName, paced = false): WebhookSideSummary => {
    const mine = runs.filter((run) => run.side === side && run.paced === paced);
    const sum = (figure: (run: WebhookRun) => number) => mine.reduce((total, run) => total + figure(run), 0);
    const completed = sum((run) => run.completed);
    return {
      rounds: mine.length,
      tasks: sum((run) => run.tasks),
      completed,
      errors: sum((run) => run.errors),
      truncated: mine.some((run) => run.truncated),
      p50Ms: round2(median(mine.map((run) => run.latency.p50))),
      p99Ms: round2(median(mine.map((run) => run.latency.p99))),
      calls: perTask(ZERO_COUNTS, sumCounts(mine.map((run) => run.calls.counted)), completed),
    };
  };
  const without = sideOf('without');
  const withCallback = sideOf('with');
  const pacedRuns = runs.filter((run) => run.paced);
  const paced = pacedRuns.length === 0
    ? undefined
    : (() => {
        const pacedWithout = sideOf('without', true);
        const pacedWith = sideOf('with', true);
        return {
          tasksPerSide: pacedRuns[0]!.tasks,
          without: pacedWithout,
          with: pacedWith,
          ratio: { p50: ratio(pacedWith.p50Ms, pacedWithout.p50Ms), p99: ratio(pacedWith.p99Ms, pacedWithout.p99Ms) },
        };
      })();
  const delivered = runs.flatMap((run) => (run.delivery ? [run.delivery] : []));
  const total = (figure: (tally: DeliveryFigures) => number) => delivered.reduce((sum, tally) => sum + figure(tally), 0);
  return {
    tasksPerSide,
    rounds,
    deliveryWaitMs,
    runs,
    without,
    with: withCallback,
    ratio: { p50: ratio(withCallback.p50Ms, without.p50Ms), p99: ratio(withCallback.p99Ms, without.p99Ms) },
    ...(paced && { paced }),
    delivery: {
      expected: total((tally) => tally.expected),
      delivered: total((tally) => tally.delivered),
      missing: total((tally) => tally.missing),
      invalidSignatures: total((tally) => tally.invalidSignatures),
      duplicates: total((tally) => tally.duplicates),
      unexpected,
      lagP50Ms: round2(median(delivered.map((tally) => tally.lagMs.p50))),
      lagP99Ms: round2(median(delivered.map((tally) => tally.lagMs.p99))),
      truncated: delivered.some((tally) => tally.truncated),
    },
  };
}

/** A fault of the deliveries that fails the bench. */
export interface WebhookFailure {
  readonly code: 'webhook_missing' | 'webhook_invalid_signature' | 'webhook_unexpected';
  readonly count: number;
  readonly message: string;
}

/**
 * What makes the bench exit 1 for this phase, besides failed requests: a delivery missing (a task
 * due one that none reached in time), one whose signature did not verify, or one of a task sent
 * without a callbackUrl. Duplicates are reported, not failed: delivery is at least once.
 */
export function webhookFailures(result: WebhookResult): WebhookFailure[] {
  const { delivery } = result;
  const failures: WebhookFailure[] = [];
  if (delivery.missing > 0) {
    failures.push({
      code: 'webhook_missing',
      count: delivery.missing,
      message: `${delivery.missing} of ${delivery.expected} completion webhooks were not delivered within ${result.deliveryWaitMs / 1000} s`,
    });
  }
  if (delivery.invalidSignatures > 0) {
    failures.push({
      code: 'webhook_invalid_signature',
      count: delivery.invalidSignatures,
      message: `${delivery.invalidSignatures} completion webhooks had a signature that did not verify`,
    });
  }
  if (delivery.unexpected > 0) {
    failures.push({ code: 'webhook_unexpected', count: delivery.unexpected, message: `${delivery.unexpected} completion webhooks came for tasks sent without a callbackUrl` });
  }
  return failures;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
