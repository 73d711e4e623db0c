import type { SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createSqsBatchHandler } from '../../lib/aws/sqs-batch-handler.ts';

function record(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:tasks',
    awsRegion: 'us-east-1',
  };
}

/** Bodies are `outcome:delayMs`. */
const handler = createSqsBatchHandler(async (r) => {
  const [outcome, delay] = r.body.split(':');
  await sleep(Number(delay));
  if (outcome === 'fail') throw new Error('task failed');
});

describe('createSqsBatchHandler', () => {
  it('reports only the records that failed', async () => {
    const response = await handler({ Records: [record('a', 'ok:0'), record('b', 'fail:0'), record('c', 'ok:0')] });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'b' }]);
  });

  it('reports a fully failed batch as failures instead of throwing', async () => {
    const response = await handler({ Records: [record('a', 'fail:0'), record('b', 'fail:0')] });
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['a', 'b']);
  });

  it('keeps the failures of concurrent calls apart', async () => {
    const first = handler({ Records: [record('a1', 'fail:0'), record('a2', 'ok:50')] });
    await sleep(20);
    const second = handler({ Records: [record('b1', 'ok:0')] });
    expect((await first).batchItemFailures).toEqual([{ itemIdentifier: 'a1' }]);
    expect((await second).batchItemFailures).toEqual([]);
  });
});
