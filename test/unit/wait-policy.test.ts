import { describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/clock.ts';
import {
  dueOffsets,
  type BackoffSchedule,
  DEFAULT_BACKOFF,
  MAX_WAIT_SECONDS,
  pollUntil,
  readOffsets,
} from '../../lib/tasks/wait-policy.ts';

const SCHEDULE: BackoffSchedule = { initialDelayMs: 10, multiplier: 2, maxDelayMs: 100 };

/** A clock that moves only when told to: by the fake sleep, or by a read that "takes time". */
class FakeClock implements Clock {
  ms = 1_700_000_000_000;
  slept = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.slept += ms;
    this.ms += ms;
  };
}

function gaps(offsets: readonly number[]): number[] {
  return offsets.map((offset, index) => offset - (index === 0 ? 0 : offsets[index - 1]!));
}

describe('readOffsets', () => {
  it.each([
    ['a zero first delay', { initialDelayMs: 0, multiplier: 2, maxDelayMs: 250 }],
    ['a shrinking multiplier', { initialDelayMs: 5, multiplier: 0.5, maxDelayMs: 250 }],
    ['a cap below the first delay', { initialDelayMs: 50, multiplier: 2, maxDelayMs: 10 }],
  ])('refuses a schedule that could never reach the budget: %s', (_label, schedule) => {
    expect(() => readOffsets(schedule, 1_000)).toThrow(RangeError);
  });

  it('starts at the initial delay', () => {
    expect(readOffsets(SCHEDULE, 1_000)[0]).toBe(SCHEDULE.initialDelayMs);
  });

  it('grows the gap by the multiplier up to the cap', () => {
    expect(readOffsets(SCHEDULE, 500)).toEqual([10, 30, 70, 150, 250, 350, 450, 500]);
  });

  it('never lets a gap exceed the maximum delay', () => {
    const offsets = readOffsets(SCHEDULE, 5_000);
    for (const gap of gaps(offsets)) expect(gap).toBeLessThanOrEqual(SCHEDULE.maxDelayMs);
  });

  it('keeps gaps non-decreasing except for the final, budget-clamped read', () => {
    const offsetGaps = gaps(readOffsets(DEFAULT_BACKOFF, 5_000)).slice(0, -1);
    for (let i = 1; i < offsetGaps.length; i += 1) expect(offsetGaps[i]).toBeGreaterThanOrEqual(offsetGaps[i - 1]!);
  });

  it('makes the last read exactly at the budget', () => {
    for (const budget of [1, 7, 10, 11, 999, 5_000]) {
      expect(readOffsets(SCHEDULE, budget).at(-1)).toBe(budget);
    }
  });

  it('never schedules a read past the budget and keeps offsets strictly increasing', () => {
    for (const budget of [1, 3, 25, 1_234, 5_000]) {
      const offsets = readOffsets(DEFAULT_BACKOFF, budget);
      for (const offset of offsets) expect(offset).toBeLessThanOrEqual(budget);
      for (const gap of gaps(offsets)) expect(gap).toBeGreaterThan(0);
    }
  });

  it('reads once, at the budget, when the budget is below the initial delay', () => {
    expect(readOffsets(SCHEDULE, 4)).toEqual([4]);
  });

  it('schedules no reads for a zero or negative budget', () => {
    expect(readOffsets(SCHEDULE, 0)).toEqual([]);
    expect(readOffsets(SCHEDULE, -10)).toEqual([]);
  });

  it('bounds the number of reads for the longest wait', () => {
    const offsets = readOffsets(DEFAULT_BACKOFF, MAX_WAIT_SECONDS * 1000);
    // 5, 15, 35, 75, 155, then 250 ms gaps: about 25 reads, not thousands.
    expect(offsets.length).toBeLessThanOrEqual(30);
    expect(offsets.length).toBeGreaterThan(5);
  });
});

describe('pollUntil', () => {
  it('returns as soon as done holds, without further reads or sleeps', async () => {
    const clock = new FakeClock();
    const values = ['PENDING', 'STARTED', 'SUCCESS', 'never read'];
    let reads = 0;
    const last = await pollUntil(
      async () => values[reads++]!,
      (value) => value === 'SUCCESS',
      { budgetMs: 1_000, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(last).toBe('SUCCESS');
    expect(reads).toBe(3);
    expect(clock.sleeps).toEqual([10, 20, 40]);
  });

  it('reads on the schedule offsets', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const readAt: number[] = [];
    await pollUntil(
      async () => readAt.push(clock.now() - start),
      () => false,
      { budgetMs: 500, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(readAt).toEqual(readOffsets(SCHEDULE, 500));
  });

  it('returns the last value read when the budget runs out', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const last = await pollUntil(
      async () => ++reads,
      () => false,
      { budgetMs: 500, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(reads).toBe(readOffsets(SCHEDULE, 500).length);
    expect(last).toBe(reads);
  });

  it('never sleeps longer in total than the budget', async () => {
    for (const budgetMs of [1, 9, 10, 333, 5_000]) {
      const clock = new FakeClock();
      await pollUntil(async () => 'PENDING', () => false, { budgetMs, clock, sleep: clock.sleep });
      expect(clock.slept).toBeLessThanOrEqual(budgetMs);
      for (const ms of clock.sleeps) expect(ms).toBeGreaterThan(0);
    }
  });

  it('returns undefined without reading when the budget is zero', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const last = await pollUntil(
      async () => ++reads,
      () => true,
      { budgetMs: 0, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(last).toBeUndefined();
    expect(reads).toBe(0);
    expect(clock.sleeps).toEqual([]);
  });

  it('propagates an error thrown by a read', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const failure = new Error('store down');
    const poll = pollUntil(
      async () => {
        reads += 1;
        if (reads === 2) throw failure;
        return reads;
      },
      () => false,
      { budgetMs: 1_000, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    await expect(poll).rejects.toBe(failure);
    expect(reads).toBe(2);
  });

  it('stops after a slow read has used up the budget instead of reading again', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const last = await pollUntil(
      async () => {
        reads += 1;
        clock.advance(600);
        return reads;
      },
      () => false,
      { budgetMs: 500, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(reads).toBe(1);
    expect(last).toBe(1);
    expect(clock.slept).toBeLessThanOrEqual(500);
  });

  it('does not sleep before a read that is already overdue after a slow read', async () => {
    const clock = new FakeClock();
    let reads = 0;
    await pollUntil(
      async () => {
        reads += 1;
        if (reads === 1) clock.advance(60); // the second read (offset 30) is now overdue
        return reads;
      },
      (value) => value === 2,
      { budgetMs: 500, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(reads).toBe(2);
    expect(clock.sleeps).toEqual([10]);
  });

  it('still makes the first read when it alone outlasts the budget', async () => {
    const clock = new FakeClock();
    const last = await pollUntil(
      async () => {
        clock.advance(10_000);
        return 'PENDING';
      },
      () => false,
      { budgetMs: 5, schedule: SCHEDULE, clock, sleep: clock.sleep },
    );
    expect(last).toBe('PENDING');
  });
});

describe('pollUntil counted from an earlier start', () => {
  it('reads once at once for the offsets already past, then keeps to the schedule', async () => {
    let now = 1_000;
    const readsAt: number[] = [];
    const schedule = { initialDelayMs: 5, multiplier: 2, maxDelayMs: 100 }; // 5, 15, 35, 75 ...
    await pollUntil(
      async () => readsAt.push(now - 1_000),
      () => readsAt.length === 3,
      { budgetMs: 1_000, schedule, clock: { now: () => now }, sleep: async (ms) => void (now += ms), startedAt: 1_000 - 20 },
    );
    // Started 20 ms in: 5 and 15 are past (one read at once), then 35 and 75 into the schedule.
    expect(readsAt).toEqual([0, 15, 55]);
  });

  it('names the offsets still due', () => {
    expect(dueOffsets([5, 15, 35], 0)).toEqual([5, 15, 35]);
    expect(dueOffsets([5, 15, 35], 20)).toEqual([20, 35]);
    expect(dueOffsets([5, 15, 35], 50)).toEqual([50]);
    expect(dueOffsets([], 50)).toEqual([]);
  });
});
