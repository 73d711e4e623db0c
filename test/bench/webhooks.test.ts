import { describe, expect, it } from 'vitest';
import { type CallCounts, perTask } from '../../bench/call-counter.ts';
import {
  type DeliveryFigures,
  type Receipt,
  type WebhookRun,
  ratio,
  summarizeWebhooks,
  tallyDeliveries,
  unexpectedDeliveries,
  webhookFailures,
} from '../../bench/webhooks-figures.ts';
import { webhooksSection } from '../../bench/webhooks-report.ts';

const valid = (at: number): Receipt => ({ at, signatureValid: true });
const forged = (at: number): Receipt => ({ at, signatureValid: false });

describe('tallyDeliveries (bench webhooks)', () => {
  it('counts a task delivered once a delivery of it verified, and the lag to its first delivery', () => {
    const answered = new Map([
      ['task_a', 1_000],
      ['task_b', 1_010],
      ['task_c', 1_020],
    ]);
    const receipts = new Map<string, Receipt[]>([
      ['task_a', [valid(1_004)]],
      ['task_b', [valid(1_018)]],
      ['task_c', [valid(1_026)]],
    ]);
    expect(tallyDeliveries(answered, receipts)).toEqual({
      expected: 3,
      delivered: 3,
      missing: 0,
      invalidSignatures: 0,
      duplicates: 0,
      lagMs: { p50: 6, p90: 8, p99: 8, max: 8, mean: 6 },
    });
  });

  it('counts missing tasks, bad signatures and deliveries beyond one a task apart', () => {
    const answered = new Map([
      ['task_once', 100],
      ['task_twice', 100],
      ['task_forged', 100],
      ['task_never', 100],
    ]);
    const receipts = new Map<string, Receipt[]>([
      ['task_once', [valid(110)]],
      // At least once: the same task again, later; the lag is to the first.
      ['task_twice', [valid(130), valid(120)]],
      // Only a delivery that did not verify: not delivered.
      ['task_forged', [forged(105)]],
      ['task_other', [valid(100)]],
    ]);
    const tally = tallyDeliveries(answered, receipts);
    expect(tally).toMatchObject({ expected: 4, delivered: 2, missing: 2, invalidSignatures: 1, duplicates: 1 });
    expect(tally.lagMs).toMatchObject({ p50: 10, max: 20 });
  });

  it('keeps a lag below zero when the delivery came before the answer reached the client', () => {
    const tally = tallyDeliveries(new Map([['task_a', 50]]), new Map([['task_a', [valid(48)]]]));
    expect(tally.lagMs.p50).toBe(-2);
  });

  it('gives NaN lags when nothing was expected', () => {
    const tally = tallyDeliveries(new Map(), new Map());
    expect(tally).toMatchObject({ expected: 0, delivered: 0, missing: 0 });
    expect(tally.lagMs.p50).toBeNaN();
  });
});

describe('unexpectedDeliveries (bench webhooks)', () => {
  it('counts every delivery of a task not sent with a callbackUrl', () => {
    const receipts = new Map<string, Receipt[]>([
      ['task_mine', [valid(1)]],
      ['task_without', [valid(1), valid(2)]],
    ]);
    expect(unexpectedDeliveries(receipts, new Set(['task_mine']))).toBe(2);
    expect(unexpectedDeliveries(receipts, new Set(['task_mine', 'task_without']))).toBe(0);
  });
});

describe('ratio (bench webhooks)', () => {
  it('divides to two decimals, and is NaN without a positive figure on both sides', () => {
    expect(ratio(12.6, 12)).toBe(1.05);
    expect(ratio(10, 10)).toBe(1);
    expect(ratio(10, 0)).toBeNaN();
    expect(ratio(Number.NaN, 10)).toBeNaN();
  });
});

const counts = (perTaskCalls: Record<string, number>, tasks: number, invocations: Record<string, number>): CallCounts => ({
  aws: Object.fromEntries(Object.entries(perTaskCalls).map(([target, per]) => [target, per * tasks])),
  invocations,
  records: invocations,
  apiRequests: tasks,
});

const NO_COUNTS: CallCounts = { aws: {}, invocations: {}, records: {}, apiRequests: 0 };

function run(side: 'without' | 'with', round: number, p50: number, p99: number, delivery?: Partial<DeliveryFigures>, paced = false): WebhookRun {
  const tasks = 100;
  const counted =
    side === 'with'
      ? counts({ 'AmazonSQS.SendMessage': 2, 'DynamoDB_20120810.UpdateItem': 3 }, tasks, { 'doozer-local-worker': tasks, 'doozer-local-notifier': tasks })
      : counts({ 'AmazonSQS.SendMessage': 1, 'DynamoDB_20120810.UpdateItem': 1 }, tasks, { 'doozer-local-worker': tasks });
  return {
    side,
    round,
    paced,
    tasks,
    completed: tasks,
    errors: 0,
    errorSamples: {},
    truncated: false,
    seconds: 1.2,
    latency: { p50, p90: p99, p99, max: p99, mean: p50 },
    ...(side === 'with' && {
      delivery: {
        expected: tasks,
        delivered: tasks,
        missing: 0,
        invalidSignatures: 0,
        duplicates: 0,
        lagMs: { p50: 20 + round, p90: 30, p99: 40 + round, max: 50, mean: 22 },
        waitSeconds: 0.05,
        truncated: false,
        ...delivery,
      },
    }),
    calls: perTask(NO_COUNTS, counted, tasks),
  };
}

describe('summarizeWebhooks (bench webhooks)', () => {
  const runs = [
    run('without', 0, 10, 20),
    run('with', 0, 10.5, 22),
    run('with', 1, 10.2, 30),
    run('without', 1, 10.4, 21),
    run('without', 2, 10.2, 19),
    run('with', 2, 10.6, 21, { delivered: 98, missing: 2, duplicates: 1, invalidSignatures: 1, truncated: true }),
  ];
  const result = summarizeWebhooks(runs, { tasksPerSide: 100, rounds: 3, deliveryWaitMs: 30_000, unexpected: 0 });

  it('takes medians of each side\'s rounds and divides with by without', () => {
    expect(result.without).toMatchObject({ rounds: 3, tasks: 300, completed: 300, errors: 0, p50Ms: 10.2, p99Ms: 20 });
    expect(result.with).toMatchObject({ rounds: 3, tasks: 300, completed: 300, p50Ms: 10.5, p99Ms: 22 });
    expect(result.ratio).toEqual({ p50: 1.03, p99: 1.1 });
  });

  it('sums the deliveries of the rounds and takes the median of their lags', () => {
    expect(result.delivery).toEqual({
      expected: 300,
      delivered: 298,
      missing: 2,
      invalidSignatures: 1,
      duplicates: 1,
      unexpected: 0,
      lagP50Ms: 21,
      lagP99Ms: 41,
      truncated: true,
    });
  });

  it('sums the calls of the rounds, per completed task', () => {
    expect(result.with.calls.tasks).toBe(300);
    expect(result.with.calls.byCall['SQS SendMessage']).toBe(2);
    expect(result.with.calls.lambda.byFunction['doozer-local-notifier']).toBe(1);
    expect(result.without.calls.byCall['SQS SendMessage']).toBe(1);
  });

  it('fails the bench for missing deliveries, bad signatures and deliveries of tasks without a callbackUrl, not for duplicates', () => {
    expect(webhookFailures(result).map(({ code, count }) => ({ code, count }))).toEqual([
      { code: 'webhook_missing', count: 2 },
      { code: 'webhook_invalid_signature', count: 1 },
    ]);
    const clean = summarizeWebhooks([run('without', 0, 10, 20), run('with', 0, 10, 20, { duplicates: 3 })], { tasksPerSide: 100, rounds: 1, deliveryWaitMs: 30_000, unexpected: 0 });
    expect(webhookFailures(clean)).toEqual([]);
    const stray = summarizeWebhooks([run('without', 0, 10, 20), run('with', 0, 10, 20)], { tasksPerSide: 100, rounds: 1, deliveryWaitMs: 30_000, unexpected: 4 });
    expect(webhookFailures(stray).map(({ code, count }) => ({ code, count }))).toEqual([{ code: 'webhook_unexpected', count: 4 }]);
  });
});

describe('the paced pass (bench webhooks)', () => {
  it('summarizes the paced runs apart from the back-to-back ones, with a ratio of their own', () => {
    const result = summarizeWebhooks(
      [
        run('without', 0, 10, 20),
        run('with', 0, 13, 26),
        run('without', 0, 8, 12, undefined, true),
        run('with', 0, 8.2, 12.6, undefined, true),
      ],
      { tasksPerSide: 100, rounds: 1, deliveryWaitMs: 30_000, unexpected: 0 },
    );
    expect(result.ratio).toEqual({ p50: 1.3, p99: 1.3 });
    expect(result.without.completed).toBe(100);
    expect(result.paced).toMatchObject({ tasksPerSide: 100, ratio: { p50: 1.02, p99: 1.05 } });
    expect(result.paced?.with).toMatchObject({ p50Ms: 8.2, completed: 100 });
    // Every delivery is checked, the paced ones' too.
    expect(result.delivery.expected).toBe(200);
    const markdown = webhooksSection(result).join('\n');
    expect(markdown).toContain('| **With ÷ without, paced** | | | **1.02×** | **1.05×** |');
  });

  it('leaves the paced pass out when it did not run', () => {
    expect(summarizeWebhooks([run('without', 0, 10, 20), run('with', 0, 10, 20)], { tasksPerSide: 100, rounds: 1, deliveryWaitMs: 30_000, unexpected: 0 }).paced).toBeUndefined();
  });
});

describe('webhooksSection (bench report)', () => {
  it('writes both sides, the ratio of the medians, the deliveries, each round and the calls per task', () => {
    const result = summarizeWebhooks([run('without', 0, 10, 20), run('with', 0, 10.5, 22), run('with', 1, 10.3, 30), run('without', 1, 10.4, 21)], {
      tasksPerSide: 100,
      rounds: 2,
      deliveryWaitMs: 30_000,
      unexpected: 0,
    });
    const markdown = webhooksSection(result).join('\n');
    expect(markdown).toContain('Completion webhooks: sync p50 with a callbackUrl against without.');
    expect(markdown).toContain('| without a callbackUrl | 200 | 0 | 10.2 | 20.5 |');
    expect(markdown).toContain('| with a callbackUrl (delivered by the notifier) | 200 | 0 | 10.4 | 26.0 |');
    expect(markdown).toContain('| **With ÷ without** | | | **1.02×** | **1.27×** |');
    expect(markdown).toContain('| all rounds | 200 | 200 | 0 | 0 | 0 | 0 | 20.5 | 40.5 |');
    expect(markdown).toContain('| 2 | with | 100 | 0 | 10.3 | 30.0 | 100 / 100 | 21.0 |');
    expect(markdown).toContain('| 1 | without | 100 | 0 | 10.0 | 20.0 |  |  |');
    expect(markdown).toContain('| SQS SendMessage | 1.000 | 2.000 |');
    expect(markdown).toContain('| Lambda: doozer-local-notifier (event source) | 0.000 | 1.000 |');
    expect(markdown).not.toContain('still missing');
  });
});
