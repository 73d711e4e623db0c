import { describe, expect, it } from 'vitest';
import { CallCounter, parseTarget, perTask } from '../../bench/call-counter.ts';
import { phaseCpu } from '../../bench/cpu.ts';
import { LoopbackClient, runClosedLoop, summarize } from '../../bench/load.ts';

describe('summarize (bench)', () => {
  it('takes nearest-rank percentiles: the smallest sample with at least p% at or below it', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
    expect(summarize(samples)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
  });

  it('gives the only sample for every percentile of one sample, and NaN for none', () => {
    expect(summarize([7.123])).toEqual({ p50: 7.12, p90: 7.12, p99: 7.12, max: 7.12, mean: 7.12 });
    expect(summarize([]).p50).toBeNaN();
  });
});

describe('runClosedLoop (bench)', () => {
  it('runs exactly `count` operations, never more than `concurrency` at once, and counts failures apart', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const result = await runClosedLoop({
      count: 50,
      concurrency: 4,
      maxMs: 10_000,
      operation: async (index) => {
        running += 1;
        peak = Math.max(peak, running);
        seen.push(index);
        await new Promise((resolve) => setImmediate(resolve));
        running -= 1;
        if (index % 10 === 0) return { ok: false, error: 'every tenth fails' };
        if (index === 7) throw new Error('a thrown error is a failure too');
        return { ok: true };
      },
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(peak).toBe(4);
    expect(result).toMatchObject({ attempted: 50, errors: 6, truncated: false });
    expect(result.latenciesMs).toHaveLength(44);
    expect(result.errorSamples).toEqual({ 'every tenth fails': 5, 'a thrown error is a failure too': 1 });
  });

  it('stops starting operations at the time bound and says so', async () => {
    const result = await runClosedLoop({
      count: 1_000_000,
      concurrency: 2,
      maxMs: 30,
      operation: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { ok: true };
      },
    });
    expect(result.truncated).toBe(true);
    expect(result.attempted).toBeLessThan(1_000_000);
  });
});

describe('LoopbackClient (bench)', () => {
  it.each(['http://example.com:3000', 'https://127.0.0.1:3000', 'http://10.0.0.1:3000'])('refuses to send load to %s', (url) => {
    expect(() => new LoopbackClient(url, { sockets: 1, timeoutMs: 1_000 })).toThrow(/only sends load to http on loopback/);
  });
});

describe('calls per task (bench)', () => {
  it('names calls by service and operation from the X-Amz-Target header', () => {
    expect(parseTarget('AmazonSQS.SendMessage')).toEqual({ service: 'SQS', operation: 'SendMessage' });
    expect(parseTarget('DynamoDB_20120810.GetItem')).toEqual({ service: 'DynamoDB', operation: 'GetItem' });
    expect(parseTarget('unknown')).toEqual({ service: 'other', operation: 'unknown' });
  });

  it('divides what was counted during a phase by its tasks, so a batched call counts 1/N per message', () => {
    const counter = new CallCounter();
    counter.observer.onAwsRequest('DynamoDB_20120810.PutItem'); // before the phase: not counted
    const before = counter.snapshot();
    for (let task = 0; task < 4; task += 1) {
      counter.countApiRequest();
      counter.observer.onAwsRequest('DynamoDB_20120810.PutItem');
      counter.observer.onAwsRequest('AmazonSQS.SendMessage');
      counter.observer.onAwsRequest('DynamoDB_20120810.GetItem');
      counter.observer.onAwsRequest('DynamoDB_20120810.UpdateItem');
    }
    counter.observer.onAwsRequest('AmazonSQS.ReceiveMessage'); // one receive of all 4
    counter.observer.onInvoke('worker', 4);
    counter.observer.onAwsRequest('AmazonSQS.DeleteMessageBatch');

    const calls = perTask(before, counter.snapshot(), 4);
    expect(calls.byCall).toEqual({
      'DynamoDB GetItem': 1,
      'DynamoDB PutItem': 1,
      'DynamoDB UpdateItem': 1,
      'SQS DeleteMessageBatch': 0.25,
      'SQS ReceiveMessage': 0.25,
      'SQS SendMessage': 1,
    });
    expect(calls).toMatchObject({ sqs: 1.5, dynamodbReads: 1, dynamodbWrites: 2, otherCalls: 0, aws: 4.5 });
    expect(calls.lambda).toEqual({ api: 1, byFunction: { worker: 0.25 }, total: 1.25 });
    expect(calls.recordsPerInvocation).toEqual({ worker: 4 });
  });
});

describe('phaseCpu (bench)', () => {
  it('gives CPU per operation by process, the cores busy, and the ceiling of the busier process or the cores', () => {
    // 1,000 ops in 2 s: the bench process used 1,000 ms (1 ms/op), serverless-offline 2,000 ms (2 ms/op).
    const cpu = phaseCpu({ benchMs: 500, offlineMs: 1_000 }, { benchMs: 1_500, offlineMs: 3_000 }, 1_000, 2_000, 2);
    expect(cpu).toEqual({ benchMsPerOp: 1, offlineMsPerOp: 2, totalMsPerOp: 3, coresBusy: 1.5, cpuCeilingPerSecond: 500 });
    // With 4 cores the single-threaded serverless-offline still caps it at 1000 / 2 ms.
    expect(phaseCpu({ benchMs: 0, offlineMs: 0 }, { benchMs: 1_000, offlineMs: 2_000 }, 1_000, 2_000, 4).cpuCeilingPerSecond).toBe(500);
    // On one core the sum caps it: 1000 / 3 ms.
    expect(phaseCpu({ benchMs: 0, offlineMs: 0 }, { benchMs: 1_000, offlineMs: 2_000 }, 1_000, 2_000, 1).cpuCeilingPerSecond).toBe(333);
  });

  it('leaves out what it cannot read (no /proc)', () => {
    const cpu = phaseCpu({ benchMs: 0, offlineMs: undefined }, { benchMs: 100, offlineMs: undefined }, 100, 1_000, 2);
    expect(cpu).toEqual({ benchMsPerOp: 1, offlineMsPerOp: undefined, totalMsPerOp: undefined, coresBusy: undefined, cpuCeilingPerSecond: undefined });
  });
});
