import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqsBatchHandler } from '../../lib/aws/sqs-batch-handler.ts';
import { scopedLogger } from '../../lib/logger.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { CapturedLogs } from '../support/captured-logs.ts';
import { MemoryTaskStore } from '../support/memory-task-store.ts';
import { catalog } from '../support/catalog.ts';

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

describe('createSqsBatchHandler logs', () => {
  let logs: CapturedLogs;
  beforeEach(() => {
    logs = new CapturedLogs();
  });
  afterEach(() => {
    logs.restore();
  });

  const taskMessage = (taskId: string) => JSON.stringify({ taskId, name: 'add', args: ['1', '2'] });
  const context = { awsRequestId: 'invocation-1' } as Context;

  /** The worker and dead-letter handlers as handlers/*.ts build them, over an in-memory store. */
  function handlers() {
    const logger = new PowertoolsLogger({ serviceName: 'doozer' });
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog, store, logger: scopedLogger(logger) });
    return {
      store,
      worker: createSqsBatchHandler((r) => worker.process(r.body), { logger }),
      deadLetter: createSqsBatchHandler((r) => worker.failExhausted(r.body), { logger }),
    };
  }

  it("puts each record's message id and task id on every line written about it, even when records run concurrently", async () => {
    const { worker } = handlers();
    // Tasks that do not exist: the worker waits for each record, then hands each back with a line of its own.
    const ids = Array.from({ length: 6 }, (_, i) => `task_0000000${i}-0000-4000-8000-000000000000`);
    await worker({ Records: ids.map((id, i) => record(`m${i}`, taskMessage(id))) }, context);
    const lines = logs.lines().map((line) => line.json);
    expect(lines).toHaveLength(ids.length);
    for (const line of lines) {
      expect(line.message).toBe('record failed; SQS will deliver it again');
      expect(line.messageId).toBe(`m${ids.indexOf(line.taskId as string)}`);
      expect(line.function_request_id).toBe('invocation-1');
    }
  });

  it('logs a failed record with its keys and receive count, and no key outlives its record', async () => {
    const { worker, store } = handlers();
    store.failNext('transition', 2);
    const id = 'task_11111111-0000-4000-8000-000000000000';
    const response = await worker({ Records: [record('m1', taskMessage(id))] }, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    scopedLogger(new PowertoolsLogger({ serviceName: 'doozer' })).info('after the batch');
    const lines = logs.lines().map((line) => line.json);
    expect(lines.map((line) => [line.level, line.message, line.messageId, line.taskId])).toEqual([
      ['WARN', 'could not mark task for retry', 'm1', id],
      ['WARN', 'record failed; SQS will deliver it again', 'm1', id],
      ['INFO', 'after the batch', undefined, undefined],
    ]);
    expect(lines[1]).toMatchObject({ receiveCount: 1, error: { name: 'UnavailableError' } });
  });

  it('logs a dead letter that is not a task message with its message id and no task id', async () => {
    const { deadLetter } = handlers();
    await deadLetter({ Records: [record('m9', 'not a task message')] });
    const [line] = logs.lines().map((l) => l.json);
    expect(line).toMatchObject({ level: 'ERROR', message: 'dropping a dead letter that is not a task message', messageId: 'm9' });
    expect(line).not.toHaveProperty('taskId');
  });
});
