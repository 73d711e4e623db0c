import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_USER_LIMITS,
  type RateDecision,
  type UserLimits,
  emissionIntervalMs,
  gcraWrites,
  rateLimitHeaders,
  rateLimitState,
  retryAfterSeconds,
  takeToken,
  userLimitProblems,
} from '../../lib/limits/user-limits.ts';
import { MemoryOpenTaskSlots, MemoryRequestRates } from '../support/memory-user-limits.ts';
import { MemoryTaskStore } from '../support/memory-task-store.ts';
import type { Task } from '../../lib/tasks/task.ts';

const T0 = 1_800_000_000_000;

/** Takes `count` tokens at `nowMs`, one after the other, from a bucket starting at `tat`. */
function takeMany(tat: number | undefined, nowMs: number, limits: UserLimits, count: number) {
  const decisions: RateDecision[] = [];
  for (let i = 0; i < count; i += 1) {
    const outcome = takeToken(tat, nowMs, limits);
    decisions.push(outcome.decision);
    tat = outcome.tat;
  }
  return { decisions, tat };
}

const limitsArbitrary = fc.record({
  requestsPerSecond: fc.oneof(
    fc.integer({ min: 1, max: 1000 }),
    fc.double({ min: 0.01, max: 1000, noNaN: true, noDefaultInfinity: true }),
  ),
  burst: fc.integer({ min: 1, max: 200 }),
  openTasks: fc.constant(1000),
});

describe('GCRA', () => {
  it('admits the whole burst at once on a new bucket, then refuses', () => {
    const limits: UserLimits = { requestsPerSecond: 20, burst: 40, openTasks: 1000 };
    const { decisions } = takeMany(undefined, T0, limits, 41);
    expect(decisions.slice(0, 40).every((decision) => decision.admitted)).toBe(true);
    expect(decisions.slice(0, 40).map((decision) => decision.remaining)).toEqual(Array.from({ length: 40 }, (_, i) => 39 - i));
    expect(decisions[40]).toEqual({ admitted: false, limit: 40, remaining: 0, resetSeconds: 2, windowSeconds: 2, retryAfterSeconds: 1 });
  });

  it('admits one request per interval once the burst is spent', () => {
    const limits: UserLimits = { requestsPerSecond: 2, burst: 3, openTasks: 1 };
    let { tat } = takeMany(undefined, T0, limits, 3);
    // T = 500 ms: one token back every 500 ms, not before.
    expect(takeToken(tat, T0 + 499, limits).decision.admitted).toBe(false);
    const next = takeToken(tat, T0 + 500, limits);
    expect(next.decision).toMatchObject({ admitted: true, remaining: 0 });
    tat = next.tat;
    expect(takeToken(tat, T0 + 500, limits).decision.admitted).toBe(false);
    expect(takeToken(tat, T0 + 1000, limits).decision.admitted).toBe(true);
  });

  it('refills the whole burst after burst / rate seconds of quiet', () => {
    const limits: UserLimits = { requestsPerSecond: 4, burst: 8, openTasks: 1 };
    const { tat } = takeMany(undefined, T0, limits, 8);
    expect(rateLimitState(tat!, T0 + 2000, limits)).toEqual({ limit: 8, remaining: 8, resetSeconds: 0 });
    expect(takeMany(tat, T0 + 2000, limits, 9).decisions.filter((decision) => decision.admitted)).toHaveLength(8);
    expect(takeMany(tat, T0 + 1999, limits, 9).decisions.filter((decision) => decision.admitted)).toHaveLength(7);
  });

  it('says when a refused request would pass: ceil((tat + T - burst*T - now) / 1000), at least 1', () => {
    const limits: UserLimits = { requestsPerSecond: 0.1, burst: 2, openTasks: 1 };
    // T = 10 s; two taken at T0: tat = T0 + 20 s; a token is back at T0 + 10 s.
    const { tat } = takeMany(undefined, T0, limits, 2);
    expect(tat).toBe(T0 + 20_000);
    expect(retryAfterSeconds(tat!, T0, limits)).toBe(10);
    expect(retryAfterSeconds(tat!, T0 + 9_001, limits)).toBe(1);
    expect(retryAfterSeconds(tat!, T0 + 9_999.5, limits)).toBe(1);
    expect(takeToken(tat, T0 + 3_500, limits).decision).toEqual({
      admitted: false,
      limit: 2,
      remaining: 0,
      resetSeconds: 17,
      windowSeconds: 20,
      retryAfterSeconds: 7,
    });
  });

  it('keeps fractional rates exact: 3 per second admits a burst of 30 exactly, then one each 333.333 ms', () => {
    const limits: UserLimits = { requestsPerSecond: 3, burst: 30, openTasks: 1 };
    expect(emissionIntervalMs(limits)).toBe(333.333);
    const { decisions, tat } = takeMany(undefined, T0, limits, 31);
    expect(decisions.filter((decision) => decision.admitted)).toHaveLength(30);
    expect(tat).toBe(T0 + 9999.99);
    expect(takeToken(tat, T0 + 333.332, limits).decision.admitted).toBe(false);
    expect(takeToken(tat, T0 + 333.333, limits).decision.admitted).toBe(true);
  });

  it('gives the store bounds that admit exactly what the GCRA admits', () => {
    const writes = gcraWrites(T0, { requestsPerSecond: 20, burst: 40, openTasks: 1 });
    expect(writes).toEqual({
      idle: { now: T0, tat: T0 + 50 },
      busy: { now: T0, interval: 50, bound: T0 + 39 * 50 },
      expiresAt: T0 / 1000 + 2,
    });
  });

  it('lists every problem of unusable limits', () => {
    expect(userLimitProblems(DEFAULT_USER_LIMITS)).toEqual([]);
    expect(userLimitProblems({ requestsPerSecond: 0, burst: 1.5, openTasks: 0 })).toHaveLength(3);
    expect(userLimitProblems({ requestsPerSecond: 1e-9, burst: 10, openTasks: 1 })).toEqual([
      'burst / requestsPerSecond (the refill time) must be at most 31536000 seconds',
    ]);
    expect(() => takeToken(undefined, T0, { requestsPerSecond: Number.NaN, burst: 1, openTasks: 1 })).toThrow(RangeError);
  });

  describe('properties', () => {
    it('a full bucket admits exactly `burst` requests made at one instant', () => {
      fc.assert(
        fc.property(limitsArbitrary, fc.integer({ min: 0, max: 10 ** 6 }), (limits, offset) => {
          const { decisions } = takeMany(undefined, T0 + offset, limits, limits.burst + 5);
          expect(decisions.filter((decision) => decision.admitted)).toHaveLength(limits.burst);
        }),
      );
    });

    it('over any schedule, admits at most burst + elapsed / T requests, and whenever a token is due', () => {
      fc.assert(
        fc.property(limitsArbitrary, fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }), (limits, gaps) => {
          let tat: number | undefined;
          let now = T0;
          let admitted = 0;
          for (const gap of gaps) {
            now += gap;
            const before = tat;
            const outcome = takeToken(tat, now, limits);
            tat = outcome.tat;
            const { decision } = outcome;
            if (decision.admitted) admitted += 1;
            // The admission test, checked independently: max(tat, now) + T - now <= burst * T, in
            // whole microseconds (a double near 1.8e12 ms is only good to a quarter of one).
            const us = (ms: number) => Math.round(ms * 1000);
            const t = us(emissionIntervalMs(limits));
            const start = Math.max(us(before ?? now), us(now));
            expect(decision.admitted).toBe(start + t - us(now) <= limits.burst * t);
            expect(decision.remaining).toBeGreaterThanOrEqual(0);
            expect(decision.remaining).toBeLessThan(limits.burst);
            if (!decision.admitted) expect(decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
          }
          const elapsed = now - T0;
          expect(admitted).toBeLessThanOrEqual(limits.burst + Math.floor(elapsed / emissionIntervalMs(limits)));
        }),
      );
    });

    it('a refused request waits its Retry-After, and then passes', () => {
      fc.assert(
        fc.property(limitsArbitrary, fc.integer({ min: 0, max: 100_000 }), (limits, later) => {
          const { tat } = takeMany(undefined, T0, limits, limits.burst);
          const now = T0 + later;
          const refused = takeToken(tat, now, limits).decision;
          if (refused.admitted) return;
          expect(takeToken(tat, now + refused.retryAfterSeconds! * 1000, limits).decision.admitted).toBe(true);
          // And not a whole second sooner.
          if (refused.retryAfterSeconds! > 1) expect(takeToken(tat, now + (refused.retryAfterSeconds! - 1) * 1000 - 1, limits).decision.admitted).toBe(false);
        }),
      );
    });

    it('the bucket is full again after resetSeconds', () => {
      fc.assert(
        fc.property(limitsArbitrary, fc.integer({ min: 1, max: 200 }), (limits, count) => {
          const { decisions, tat } = takeMany(undefined, T0, limits, Math.min(count, limits.burst));
          const last = decisions.at(-1)!;
          expect(rateLimitState(tat!, T0 + last.resetSeconds * 1000, limits)).toMatchObject({ remaining: limits.burst, resetSeconds: 0 });
        }),
      );
    });
  });
});

describe('rateLimitHeaders', () => {
  it('sends the draft RateLimit fields of an admitted request', () => {
    const { decision } = takeToken(undefined, T0, DEFAULT_USER_LIMITS);
    expect(rateLimitHeaders(decision)).toEqual({
      'RateLimit-Limit': '40',
      'RateLimit-Remaining': '39',
      'RateLimit-Reset': '1',
      'RateLimit-Policy': '40;w=2',
    });
  });

  it('adds Retry-After to a refusal', () => {
    const limits: UserLimits = { requestsPerSecond: 0.5, burst: 1, openTasks: 1 };
    const { tat } = takeToken(undefined, T0, limits);
    const { decision } = takeToken(tat, T0 + 100, limits);
    expect(rateLimitHeaders(decision)).toEqual({
      'RateLimit-Limit': '1',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '2',
      'RateLimit-Policy': '1;w=2',
      'Retry-After': '2',
    });
  });
});

describe('MemoryRequestRates', () => {
  it('keeps users apart', async () => {
    const rates = new MemoryRequestRates();
    const limits: UserLimits = { requestsPerSecond: 1, burst: 2, openTasks: 1 };
    const alice = await Promise.all(Array.from({ length: 5 }, () => rates.take('alice', T0, limits)));
    expect(alice.filter((decision) => decision.admitted)).toHaveLength(2);
    await expect(rates.take('bob', T0, limits)).resolves.toMatchObject({ admitted: true, remaining: 1 });
  });
});

describe('MemoryOpenTaskSlots', () => {
  const task = (id: string, expiresAt = T0 / 1000 + 3600) => ({ id, expiresAt });

  it('takes all of a batch or none, and frees released slots', async () => {
    const slots = new MemoryOpenTaskSlots();
    await expect(slots.reserve('alice', ['a', 'b', 'c'].map((id) => task(id)), 4, T0)).resolves.toEqual({ admitted: true });
    await expect(slots.reserve('alice', ['d', 'e'].map((id) => task(id)), 4, T0)).resolves.toEqual({ admitted: false, open: 3 });
    await slots.release('alice', ['a', 'zzz']);
    await expect(slots.reserve('alice', ['d', 'e'].map((id) => task(id)), 4, T0)).resolves.toEqual({ admitted: true });
  });

  it('clears expired slots, and those of ended or (after the grace) missing tasks, when full', async () => {
    const tasks = new MemoryTaskStore();
    const slots = new MemoryOpenTaskSlots({ tasks });
    const ended = { id: 'ended', state: 'SUCCESS' } as Task;
    const open = { id: 'open', state: 'PENDING' } as Task;
    tasks.tasks.set(ended.id, ended);
    tasks.tasks.set(open.id, open);
    await slots.reserve('alice', [task('ended'), task('open'), task('missing'), task('expired', T0 / 1000 + 1)], 4, T0);
    // Within the grace, a missing task may still be being recorded.
    await expect(slots.reserve('alice', [task('x'), task('y')], 4, T0 + 1_000)).resolves.toEqual({ admitted: true });
    expect([...slots.slots.get('alice')!.keys()].sort()).toEqual(['missing', 'open', 'x', 'y']);
    tasks.tasks.set('x', { id: 'x', state: 'PENDING' } as Task);
    tasks.tasks.set('y', { id: 'y', state: 'PENDING' } as Task);
    await expect(slots.reserve('alice', [task('z')], 4, T0 + 31_000)).resolves.toEqual({ admitted: true });
    await expect(slots.reserve('alice', [task('w')], 4, T0 + 31_000)).resolves.toEqual({ admitted: false, open: 4 });
  });
});
