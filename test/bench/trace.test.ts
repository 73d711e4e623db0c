import { describe, expect, it } from 'vitest';
import {
  CRITICAL_PATH,
  type ClientSpan,
  type Exchange,
  type InvokeSpan,
  WORKER_FUNCTION,
  breakdown,
  correlate,
  taskOfBody,
} from '../../bench/trace/analysis.ts';

/**
 * One task's events as the trace records them, at hand-picked times (ms), starting at `t0`:
 * client 0 → PutItem 2-3 → SendMessage 4-4.5 → ReceiveMessage answered 4.6 (with the message; the
 * other poller's empty answer at 4.7) → invoke 5 → SUCCESS 10-11 → GetItems at
 * 9.5-10 (too early) and 14-14.5 (sees it) → the 200 at 16; the invocation ends at 12.
 */
function oneTask(id: string, t0: number): { client: ClientSpan; exchanges: Exchange[]; invoke: InvokeSpan } {
  const at = (ms: number) => t0 + ms;
  const dynamo = (action: string, arrive: number, finish: number, extra: Partial<Exchange> = {}): Exchange => ({
    action,
    service: 'DynamoDB',
    arrive: at(arrive),
    bodyEnd: at(arrive + 0.1),
    finish: at(finish),
    responseBytes: 100,
    taskId: id,
    ...extra,
  });
  const sqs = (action: string, arrive: number, finish: number, responseBytes: number): Exchange => ({
    action,
    service: 'SQS',
    arrive: at(arrive),
    finish: at(finish),
    responseBytes,
  });
  return {
    client: { taskId: id, send: at(0), receive: at(16) },
    exchanges: [
      sqs('ReceiveMessage', -30, 4.6, 900), // the long poll that takes the message
      sqs('ReceiveMessage', -30, 4.7, 2), // the other poller, woken and answered empty
      dynamo('PutItem', 2, 3),
      sqs('SendMessage', 4, 4.5, 300),
      dynamo('GetItem', 9.5, 10),
      dynamo('UpdateItem', 10, 11, { toState: 'SUCCESS' }),
      dynamo('GetItem', 14, 14.5),
    ],
    invoke: { functionName: WORKER_FUNCTION, taskIds: [id], start: at(5), end: at(12) },
  };
}

describe('the trace of sync tasks (bench/trace/analysis.ts)', () => {
  it('finds each call of a task and cuts its path into segments that add up to its latency', () => {
    const a = oneTask('task_a', 0);
    const b = oneTask('task_b', 100);
    const { traces, rejected } = correlate([a.client, b.client], [...a.exchanges, ...b.exchanges], [a.invoke, b.invoke]);
    expect(rejected).toEqual([]);
    expect(traces).toHaveLength(2);
    const [trace] = traces;
    expect(trace!.receiveMessage.responseBytes).toBe(900); // the answer with the message, not the empty one
    expect(trace!.receivesAnswered).toBe(2); // both pollers answered between the send and the invocation
    const segments = Object.fromEntries(CRITICAL_PATH.map((segment) => [segment.key, segment.ms(trace!)]));
    expect(segments).toEqual({
      toPut: 2,
      put: 1,
      putToSend: 1,
      send: 0.5,
      queue: expect.closeTo(0.1, 9),
      toInvoke: expect.closeTo(0.4, 9),
      run: 5,
      success: 1,
      catch: 3,
      get: 0.5,
      answer: 1.5,
    });
    const sum = CRITICAL_PATH.reduce((total, segment) => total + segment.ms(trace!), 0);
    expect(sum).toBeCloseTo(16, 9);
  });

  it('sums up the tasks: medians per segment, reads per task, and means that add up to the mean latency', () => {
    const tasks = [oneTask('task_a', 0), oneTask('task_b', 100), oneTask('task_c', 200)];
    const { traces } = correlate(
      tasks.map((task) => task.client),
      tasks.flatMap((task) => task.exchanges),
      tasks.map((task) => task.invoke),
    );
    const result = breakdown(traces);
    expect(result.tasks).toBe(3);
    expect(result.readsPerTask).toEqual({ 2: 3 });
    expect(result.meanReads).toBe(2);
    expect(result.criticalPath.find((segment) => segment.key === 'catch')).toMatchObject({ n: 3, p50: 3, p90: 3, mean: 3 });
    expect(result.side.find((segment) => segment.key === 'total')).toMatchObject({ p50: 16, mean: 16 });
    expect(result.side.find((segment) => segment.key === 'firstRead')).toMatchObject({ p50: 5 });
    expect(result.readService).toMatchObject({ n: 6, p50: 0.5 });
    expect(result.latencyByReads).toEqual({ 2: { n: 3, p50: 16, p90: 16, p99: 16, max: 16, mean: 16 } });
    expect(result.sumOfMeans).toBe(16);
  });

  it('rejects a task whose events do not make one clean path, and says why', () => {
    const a = oneTask('task_a', 0);
    const noSuccess = a.exchanges.filter((exchange) => exchange.toState !== 'SUCCESS');
    expect(correlate([a.client], noSuccess, [a.invoke]).rejected).toEqual([
      { taskId: 'task_a', reason: 'UpdateItem none, expected SUCCESS' },
    ]);
    const retried = [...a.exchanges, { ...a.exchanges.find((exchange) => exchange.toState === 'SUCCESS')!, toState: 'RETRY' }];
    expect(correlate([a.client], retried, [a.invoke]).rejected).toEqual([
      { taskId: 'task_a', reason: 'UpdateItem SUCCESS, RETRY, expected SUCCESS' },
    ]);
    const redelivered = { ...a.invoke, start: 50, end: 60 };
    expect(correlate([a.client], a.exchanges, [a.invoke, redelivered]).rejected).toEqual([
      { taskId: 'task_a', reason: '2 worker invocations' },
    ]);
    const unfinished = a.exchanges.map((exchange) => (exchange.action === 'GetItem' ? { ...exchange, finish: undefined } : exchange));
    expect(correlate([a.client], unfinished, [a.invoke]).rejected).toEqual([
      { taskId: 'task_a', reason: 'a call or the invocation never ended' },
    ]);
  });

  it('reads the task id, and the state an UpdateItem writes, from DynamoDB request bodies', () => {
    expect(taskOfBody('{"TableName":"t","Item":{"id":{"S":"task_1"},"state":{"S":"PENDING"}}}')).toEqual({ taskId: 'task_1' });
    expect(
      taskOfBody('{"Key":{"id":{"S":"task_2"}},"ExpressionAttributeValues":{":to":{"S":"SUCCESS"},":at":{"S":"2026"}}}'),
    ).toEqual({ taskId: 'task_2', toState: 'SUCCESS' });
    expect(taskOfBody('{"Key":{"id":{"S":"task_3"}},"ConsistentRead":true}')).toEqual({ taskId: 'task_3' });
    expect(taskOfBody('not json')).toEqual({});
  });
});
