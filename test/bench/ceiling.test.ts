import { describe, expect, it } from 'vitest';
import type { PerTaskCalls } from '../../bench/call-counter.ts';
import type { PhaseCpu } from '../../bench/cpu.ts';
import { type UnitCosts, ceilingFromUnitCosts, unitKindOf } from '../../bench/unit-costs.ts';

const cost = (clientMs: number, emulatorMs: number) => ({ calls: 100, clientMs, emulatorMs, wallMs: 1 });
const UNITS: UnitCosts = {
  concurrency: 16,
  byKind: {
    'DynamoDB GetItem': cost(0.5, 0.4),
    'DynamoDB PutItem': cost(0.6, 0.5),
    'DynamoDB UpdateItem': cost(0.7, 0.6),
    'SQS SendMessage': cost(0.3, 0.2),
  },
};
const FLOOR: PhaseCpu = { benchMsPerOp: 0.1, offlineMsPerOp: 1, totalMsPerOp: 1.1, coresBusy: 1, cpuCeilingPerSecond: 900 };

/** A sync task as counted: one put, one send, two reads, one update; the poller's receive and delete; two invocations. */
const CALLS = {
  tasks: 10,
  byCall: {
    'DynamoDB PutItem': 1,
    'SQS SendMessage': 1,
    'DynamoDB GetItem': 2,
    'DynamoDB UpdateItem': 1,
    'SQS ReceiveMessage': 1,
    'SQS DeleteMessageBatch': 1,
  },
  lambda: { api: 1, byFunction: { 'doozer-local-worker': 1 }, total: 2 },
} as unknown as PerTaskCalls;

describe('the CPU ceiling built up from unit costs (bench/unit-costs.ts)', () => {
  it('prices the functions\' calls in serverless-offline and every call at the emulator, and finds the binding limit', () => {
    const ceiling = ceilingFromUnitCosts(UNITS, CALLS, FLOOR, 2);
    // serverless-offline: 2 emulations x 1 + put 0.6 + send 0.3 + 2 reads x 0.5 + update 0.7 = 4.6
    expect(ceiling.offlineMsPerTask).toBeCloseTo(4.6, 9);
    // bench: emulators 0.5 + 0.2 + 0.8 + 0.6 + receive 0.2 + delete 0.2 = 2.5; the poller's SDK:
    // receive 0.3 + delete 0.3 + invoke 0.3 = 0.9; the load generator 0.1: 3.5
    expect(ceiling.benchMsPerTask).toBeCloseTo(3.5, 9);
    // 1000 / 4.6 = 217 per s on serverless-offline's thread; 2 cores / 8.1 ms = 247; bench 286.
    expect(ceiling.limit).toBe('serverless-offline thread');
    expect(ceiling.perSecond).toBeCloseTo(1000 / 4.6, 9);
    const total = ceiling.terms.reduce((sum, term) => sum + term.ms, 0);
    expect(total).toBeCloseTo(8.1, 9);
  });

  it('is set by the cores when both processes are busy but neither alone is', () => {
    const even = { ...FLOOR, offlineMsPerOp: 0 };
    const ceiling = ceilingFromUnitCosts(UNITS, CALLS, even, 1);
    expect(ceiling.limit).toBe('cores');
    expect(ceiling.perSecond).toBeCloseTo(1000 / (2.6 + 3.5), 9);
  });

  it('prices calls it did not measure as the nearest kind it did', () => {
    expect(unitKindOf('SQS DeleteMessageBatch')).toBe('SQS SendMessage');
    expect(unitKindOf('DynamoDB Query')).toBe('DynamoDB GetItem');
    expect(unitKindOf('DynamoDB DeleteItem')).toBe('DynamoDB UpdateItem');
    expect(unitKindOf('DynamoDB PutItem')).toBe('DynamoDB PutItem');
  });
});
