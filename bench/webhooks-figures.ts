import { type PerTaskCalls, ZERO_COUNTS, perTask, sumCounts } from './call-counter.ts';
import { type LatencySummary, median, summarize } from './load.ts';

/**
 * The figures of the webhooks phase (webhooks.ts): one side of one round, each side over its rounds
 * (medians of the rounds, sums of the counts), the ratio with ÷ without, and the deliveries checked.
 * Pure.
 */

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

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
