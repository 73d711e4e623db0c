import { describe, expect, it } from 'vitest';
import { type FittedModel, type LatencyModel, PUBLISHED_MODEL, fitModel } from '../../bench/aws-model/latency-model.ts';
import { PRICES, costPerMillion, taskUsage } from '../../bench/aws-model/prices.ts';
import {
  type Evaluated,
  RECOMMENDED_BACKOFF,
  backoffCandidate,
  bestWithinReads,
  firstReadCandidate,
  paretoFront,
} from '../../bench/aws-model/schedules.ts';
import { simulate, simulateTask, simulateWaitLoop } from '../../bench/aws-model/simulation.ts';
import {
  Z90,
  fitLogNormal,
  fitShiftedLogNormal,
  logNormalQuantile,
  mulberry32,
  quantile,
  sampleLogNormal,
} from '../../bench/aws-model/statistics.ts';
import type { Clock } from '../../lib/clock.ts';
import { type BackoffSchedule, DEFAULT_BACKOFF, pollUntil, readOffsets } from '../../lib/tasks/wait-policy.ts';

function sampleQuantiles(draw: () => number, n: number, qs: readonly number[]): number[] {
  const values = Float64Array.from({ length: n }, draw).sort();
  return qs.map((q) => quantile(values, q));
}

describe('lognormal fits', () => {
  it.each([
    [4, 10],
    [16.2, 105],
    [6, 20],
  ])('a sample of the lognormal fitted to p50 %d, p99 %d reproduces both', (p50, p99) => {
    const dist = fitLogNormal(p50, p99);
    const random = mulberry32(7);
    const [m, t] = sampleQuantiles(() => sampleLogNormal(dist, random), 200_000, [0.5, 0.99]);
    expect(Math.abs(m! / p50 - 1)).toBeLessThan(0.01);
    expect(Math.abs(t! / p99 - 1)).toBeLessThan(0.03);
  });

  it('fits the SQS -> Lambda hop through p10, p50 and p99, and lands near the published p90', () => {
    const hop = fitShiftedLogNormal(13.7, 16.2, 105);
    expect(hop.shift).toBeGreaterThan(0);
    expect(hop.shift).toBeLessThan(13.7);
    expect(logNormalQuantile(hop, -Z90)).toBeCloseTo(13.7, 6);
    expect(logNormalQuantile(hop, 0)).toBeCloseTo(16.2, 6);
    expect(logNormalQuantile(hop, 2.3263478740408408)).toBeCloseTo(105, 6);
    // p90 is not fitted: it checks the shape (published 33.8 ms).
    expect(Math.abs(logNormalQuantile(hop, Z90) - 33.8)).toBeLessThan(2);
    const random = mulberry32(11);
    const [p10, p50, p99] = sampleQuantiles(() => sampleLogNormal(hop, random), 200_000, [0.1, 0.5, 0.99]);
    expect(Math.abs(p10! / 13.7 - 1)).toBeLessThan(0.01);
    expect(Math.abs(p50! / 16.2 - 1)).toBeLessThan(0.01);
    expect(Math.abs(p99! / 105 - 1)).toBeLessThan(0.05);
  });

  it('falls back to the p50/p99 fit when the data are no tighter below the median than that', () => {
    expect(fitShiftedLogNormal(1, 4, 10)).toEqual(fitLogNormal(4, 10));
  });

  it('refuses quantiles out of order', () => {
    expect(() => fitLogNormal(10, 4)).toThrow(RangeError);
    expect(() => fitShiftedLogNormal(20, 16, 105)).toThrow(RangeError);
  });
});

describe('determinism', () => {
  const fitted = fitModel(PUBLISHED_MODEL);
  const offsets = readOffsets(DEFAULT_BACKOFF, 5000);

  it('gives the same result for the same seed, and another for another seed', () => {
    const a = simulate(fitted, offsets, { samples: 20_000, seed: 42 });
    const b = simulate(fitted, offsets, { samples: 20_000, seed: 42 });
    const c = simulate(fitted, offsets, { samples: 20_000, seed: 43 });
    expect(b).toEqual(a);
    expect(c.answerP50).not.toBe(a.answerP50);
  });

  it('the PRNG is a fixed sequence in [0, 1)', () => {
    const random = mulberry32(1);
    const first = Array.from({ length: 1000 }, random);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    const again = mulberry32(1);
    expect(Array.from({ length: 1000 }, again)).toEqual(first);
  });

  it('compares schedules on the same tasks: one that reads at the same times gives the same figures', () => {
    // Caps past the 5 s budget never bind: the offsets, and so every figure, are equal.
    const a = simulate(fitted, readOffsets({ initialDelayMs: 20, multiplier: 2, maxDelayMs: 5000 }, 5000), { samples: 20_000, seed: 5 });
    const b = simulate(fitted, readOffsets({ initialDelayMs: 20, multiplier: 2, maxDelayMs: 9000 }, 5000), { samples: 20_000, seed: 5 });
    expect(b).toEqual(a);
  });
});

describe('the wait loop', () => {
  it('with instant reads, reads once per offset before the result is ready, plus the read that sees it', () => {
    const offsets = readOffsets(DEFAULT_BACKOFF, 5000);
    for (const ready of [0, 4.9, 5, 5.1, 14, 15, 16, 34, 100, 1000, 4999, 5000]) {
      const before = offsets.filter((offset) => offset < ready).length;
      const outcome = simulateWaitLoop(offsets, ready, 5000, () => 0);
      expect(outcome.done).toBe(true);
      expect(outcome.reads).toBe(before + 1);
      expect(outcome.endMs).toBe(offsets[before]);
    }
  });

  it('reads every offset and gives up when the result comes after the budget', () => {
    const offsets = readOffsets(DEFAULT_BACKOFF, 5000);
    const outcome = simulateWaitLoop(offsets, 5001, 5000, () => 0);
    expect(outcome).toEqual({ reads: offsets.length, done: false, endMs: 5000 });
  });

  it('matches the real pollUntil, read for read, on random schedules, budgets and read times', async () => {
    const random = mulberry32(2024);
    const slowRead = fitLogNormal(4, 400);
    for (let trial = 0; trial < 400; trial += 1) {
      const initialDelayMs = 1 + Math.floor(random() * 30);
      const schedule: BackoffSchedule = {
        initialDelayMs,
        multiplier: 1 + random() * 2,
        maxDelayMs: initialDelayMs + Math.floor(random() * 500),
      };
      const budgetMs = 20 + Math.floor(random() * 2000);
      const readyMs = random() * budgetMs * 1.2;
      const durations = Array.from({ length: 400 }, () => sampleLogNormal(slowRead, random));
      // Half the trials begin the loop after the schedule's start (the writes took that long).
      const late = trial % 2 === 0 ? 0 : random() * 3 * initialDelayMs;

      const model = simulateWaitLoop(
        readOffsets(schedule, budgetMs),
        readyMs,
        budgetMs,
        (() => {
          let k = 0;
          return () => durations[k++]!;
        })(),
        0.5,
        late,
      );

      const start = 1_000_000;
      let now = start + late;
      const clock: Clock = { now: () => now };
      let reads = 0;
      const last = await pollUntil(
        async () => {
          const duration = durations[reads++]!;
          const seesAt = now - start + duration / 2;
          now += duration;
          return seesAt >= readyMs;
        },
        (done) => done,
        { budgetMs, schedule, clock, sleep: async (ms) => void (now += ms), startedAt: start },
      );
      expect({ reads, done: last === true, endMs: now - start }).toEqual({
        reads: model.reads,
        done: model.done,
        endMs: expect.closeTo(model.endMs, 9) as unknown as number,
      });
    }
  });
});

describe('one task end to end', () => {
  // Every component fixed (p50 = p99, so sigma = 0): the whole path can be worked out by hand.
  const fixed = (ms: number) => ({ p50: ms, p99: ms, what: '', source: '' });
  const model: LatencyModel = {
    ...PUBLISHED_MODEL,
    apiGateway: fixed(6),
    lambdaInvoke: fixed(2),
    dynamoRead: fixed(4),
    dynamoWrite: fixed(4),
    sqsSend: fixed(5),
    queueHop: fixed(16),
    apiCpuBeforeMs: 1,
    apiCpuAfterMs: 0.5,
    workerCpuMs: 0.5,
    workerOverheadMs: 1,
    servicePoint: 0.5,
  };
  const fitted: FittedModel = fitModel(model);
  /** The schedule this example was worked out for (the local stage's). */
  const FIVE_MS_FIRST = { ...DEFAULT_BACKOFF, initialDelayMs: 5 };

  it('follows the path: put and send at once, hop, one write, reads on the schedule, answer', () => {
    // Handler starts at 3 (half the gateway) + 2 = 5; PutItem and SendMessage start at 5 + 1 = 6 (the
    // schedule's 0) and end at 10 and 11; the loop starts at 11, 5 ms into the schedule. The worker
    // starts at 6 + 16 = 22; SUCCESS is visible at 22 + 0.5 + 4 / 2 = 24.5, i.e. 13.5 ms into the loop,
    // 18.5 into the schedule. Reads at 5, at once (sees at 7), 15 (sees at 17) and 35 (sees at 37:
    // done, ends at 39). Handler ends at 6 + 39 + 0.5 = 45.5; answer at 48.5.
    const task = simulateTask(fitted, readOffsets(FIVE_MS_FIRST, 5000), 5000, mulberry32(1));
    expect(task.readyAfterLoopStartMs).toBeCloseTo(13.5, 9);
    expect(task.reads).toBe(3);
    expect(task.done).toBe(true);
    expect(task.answerMs).toBeCloseTo(48.5, 9);
    expect(task.apiBilledMs).toBe(41); // ceil(45.5 - 5)
    expect(task.workerBilledMs).toBe(6); // ceil(0.5 + 4 + 1)
    // The floor: one read timed to see the result as it turns visible: 22.5 + 4 + 0.5 + 3.
    expect(task.floorMs).toBeCloseTo(30, 9);
  });

  it('counts the reads of the schedule before the result, plus one', () => {
    const offsets = readOffsets(RECOMMENDED_BACKOFF, 5000); // 20, 60, 140, ...
    const task = simulateTask(fitted, offsets, 5000, mulberry32(1));
    expect(task.reads).toBe(1); // the first read, at 20 into the schedule (sees at 22), finds it done (18.5)
    expect(task.answerMs).toBeCloseTo(3 + 2 + 1 + 20 + 4 + 0.5 + 3, 9);
  });
});

describe('cost', () => {
  it('adds up a hand-computed example', () => {
    const usage = {
      apiGatewayRequests: 1,
      lambdaRequests: 2,
      lambdaGbSeconds: 0.03,
      sqsRequests: 3,
      dynamoWriteUnits: 5,
      dynamoReadUnits: 2,
    };
    const cost = costPerMillion(usage, PRICES);
    expect(cost.apiGateway).toBeCloseTo(1.0, 12); // 1 x $1.00
    expect(cost.lambdaRequests).toBeCloseTo(0.4, 12); // 2 x $0.20
    expect(cost.lambdaDuration).toBeCloseTo(0.400002, 12); // 30,000 GB-s x $0.0000133334
    expect(cost.sqs).toBeCloseTo(1.2, 12); // 3 x $0.40
    expect(cost.dynamoWrites).toBeCloseTo(3.125, 12); // 5 x $0.625
    expect(cost.dynamoReads).toBeCloseTo(0.25, 12); // 2 x $0.125
    expect(cost.total).toBeCloseTo(6.375002, 12);
  });

  it('derives per-task usage from the simulation: 512 MB, one task per worker batch or ten', () => {
    const result = { readsMean: 2, apiBilledMeanMs: 50, workerBilledMeanMs: 10 };
    expect(taskUsage(result, { memoryMb: 512, tasksPerBatch: 1 })).toEqual({
      apiGatewayRequests: 1,
      lambdaRequests: 2,
      lambdaGbSeconds: 0.03, // 0.5 GB x (50 + 10) ms
      sqsRequests: 3,
      dynamoWriteUnits: 4, // PutItem + its index entry, UpdateItem SUCCESS + its index removal
      dynamoReadUnits: 2,
    });
    const batched = taskUsage(result, { memoryMb: 512, tasksPerBatch: 10 });
    expect(batched.lambdaRequests).toBeCloseTo(1.1, 12);
    expect(batched.sqsRequests).toBeCloseTo(1.2, 12);
    expect(batched.lambdaGbSeconds).toBeCloseTo(0.5 * 51 / 1000, 12);
  });
});

describe('schedules', () => {
  it('uses the real readOffsets, and a first read shifts it', () => {
    expect(backoffCandidate(DEFAULT_BACKOFF, 5000).offsets).toEqual(readOffsets(DEFAULT_BACKOFF, 5000));
    const shifted = firstReadCandidate(20, { initialDelayMs: 10, multiplier: 2, maxDelayMs: 250 }, 5000).offsets;
    expect(shifted.slice(0, 4)).toEqual([20, 30, 50, 90]);
    expect(shifted.at(-1)).toBe(5000);
  });

  const evaluated = (label: string, answerP50: number, readsMean: number, readsP99: number): Evaluated =>
    ({
      candidate: { label, offsets: [] },
      result: { answerP50, answerP99: 100, answerP999: 200, readsMean, readsP99 },
      cost: { total: 0 },
    }) as unknown as Evaluated;

  it('keeps the schedules no other beats on both p50 and reads, and picks the best p50 within bounds', () => {
    const rows = [evaluated('a', 50, 1.2, 3), evaluated('b', 45, 2.5, 6), evaluated('c', 55, 1.5, 3), evaluated('d', 48, 1.4, 3)];
    expect(paretoFront(rows).map((row) => row.candidate.label)).toEqual(['a', 'd', 'b']);
    expect(bestWithinReads(rows, 1.5, 3)?.candidate.label).toBe('d');
    expect(bestWithinReads(rows, 1.3, 3)?.candidate.label).toBe('a');
    expect(bestWithinReads(rows, 1, 3)).toBeUndefined();
  });
});
