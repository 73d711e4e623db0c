import { type BackoffSchedule, readOffsets } from '../../lib/tasks/wait-policy.ts';
import type { FittedModel } from './latency-model.ts';
import { type CostBreakdown, type UsageOptions, costPerMillion, taskUsage } from './prices.ts';
import { type SimulationOptions, type SimulationResult, simulate } from './simulation.ts';

/**
 * The search for the wait loop's schedule: candidate schedules, each simulated on the same tasks
 * and costed, the ones no other beats, and the pick within a bound on reads.
 */

export interface Candidate {
  readonly label: string;
  /** The schedule as BackoffSchedule, when the current readOffsets can express it. */
  readonly schedule?: BackoffSchedule;
  readonly offsets: readonly number[];
}

export function backoffCandidate(schedule: BackoffSchedule, budgetMs: number): Candidate {
  const { initialDelayMs: i, multiplier: x, maxDelayMs: cap } = schedule;
  return { label: `${i} ms, x${x}, cap ${cap}`, schedule, offsets: readOffsets(schedule, budgetMs) };
}

/**
 * A first read at `firstMs`, then the backoff schedule from there (the real readOffsets, shifted):
 * the "first read when the result is likely" shape. Not expressible by BackoffSchedule today; it
 * would need one more field (e.g. `firstDelayMs`) in lib/tasks/wait-policy.ts.
 */
export function firstReadCandidate(firstMs: number, schedule: BackoffSchedule, budgetMs: number): Candidate {
  const rest = readOffsets(schedule, budgetMs - firstMs).map((offset) => offset + firstMs);
  const { initialDelayMs: i, multiplier: x, maxDelayMs: cap } = schedule;
  return { label: `first ${firstMs} ms, then ${i} ms, x${x}, cap ${cap}`, offsets: [firstMs, ...rest] };
}

export function candidateSchedules(budgetMs: number): Candidate[] {
  const candidates: Candidate[] = [];
  for (const initialDelayMs of [5, 10, 15, 20, 25, 30, 35]) {
    for (const multiplier of [1.5, 2]) {
      for (const maxDelayMs of [100, 250, 500]) {
        candidates.push(backoffCandidate({ initialDelayMs, multiplier, maxDelayMs }, budgetMs));
      }
    }
  }
  for (const firstMs of [15, 20, 25, 30, 35]) {
    for (const initialDelayMs of [5, 10]) {
      for (const maxDelayMs of [100, 250]) {
        candidates.push(firstReadCandidate(firstMs, { initialDelayMs, multiplier: 2, maxDelayMs }, budgetMs));
      }
    }
  }
  return candidates;
}

export interface Evaluated {
  readonly candidate: Candidate;
  readonly result: SimulationResult;
  readonly cost: CostBreakdown;
}

/** The candidates no other candidate beats on both p50 time to answer and mean reads. */
export function paretoFront(rows: readonly Evaluated[]): Evaluated[] {
  const seen = new Set<string>();
  return rows
    .filter((row) => {
      // Schedules that differ only past the 99th percentile give the same figures: keep the first.
      const key = `${row.result.answerP50}|${row.result.answerP99}|${row.result.answerP999}|${row.result.readsMean}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .filter(
      (row) =>
        !rows.some(
          (other) =>
            other !== row &&
            other.result.answerP50 <= row.result.answerP50 &&
            other.result.readsMean <= row.result.readsMean &&
            (other.result.answerP50 < row.result.answerP50 || other.result.readsMean < row.result.readsMean),
        ),
    )
    .sort((a, b) => a.result.readsMean - b.result.readsMean);
}

/**
 * The best p50 among candidates whose mean and p99 reads stay within the bounds; ties go to fewer
 * reads, then the better p99.
 */
export function bestWithinReads(rows: readonly Evaluated[], maxMeanReads: number, maxP99Reads: number): Evaluated | undefined {
  return rows
    .filter((row) => row.result.readsMean <= maxMeanReads && row.result.readsP99 <= maxP99Reads)
    .sort(
      (a, b) =>
        a.result.answerP50 - b.result.answerP50 ||
        a.result.readsMean - b.result.readsMean ||
        a.result.answerP99 - b.result.answerP99,
    )[0];
}

/**
 * The other candidates that match `best` up to the 99th percentile (p50 within 0.1 ms, p99 within
 * 0.5 ms, mean reads within 0.01): they differ only beyond what the published figures describe.
 */
export function tiesOf(best: Evaluated, rows: readonly Evaluated[]): Evaluated[] {
  return rows.filter(
    (row) =>
      row !== best &&
      Math.abs(row.result.answerP50 - best.result.answerP50) < 0.1 &&
      Math.abs(row.result.answerP99 - best.result.answerP99) < 0.5 &&
      Math.abs(row.result.readsMean - best.result.readsMean) < 0.01,
  );
}

/** What the schedules are costed at: serverless.yml's 512 MB, one task per worker invocation. */
export const USAGE: UsageOptions = { memoryMb: 512, tasksPerBatch: 1 };

/** One schedule simulated and costed. */
export function evaluate(fitted: FittedModel, candidate: Candidate, options: SimulationOptions): Evaluated {
  const result = simulate(fitted, candidate.offsets, options);
  return { candidate, result, cost: costPerMillion(taskUsage(result, USAGE)) };
}

/**
 * What the model recommends for DEFAULT_BACKOFF: the best p50 within READ_BOUNDS. Caps of 100, 250
 * and 500 ms give the same figures up to p99; the cap only trades the far tail (beyond the published
 * p99) against reads when the 5 s budget runs out, so 250 stays.
 */
export const RECOMMENDED_BACKOFF: BackoffSchedule = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 250 };

/** The read bounds the recommendation is chosen within: mean reads, and reads at p99. */
export const READ_BOUNDS = { mean: 1.5, p99: 3 } as const;

