/**
 * The analysis of `npm run bench:trace` (bench/trace/run.ts): per sync task, the timestamps seen at the
 * client, at the embedded emulators and at the event source, correlated by task id, then cut into
 * the consecutive segments of the path that decides when the 200 arrives. Pure: no clock, no I/O.
 *
 * All times are ms on one clock (performance.now() of the bench process, which hosts the client,
 * both emulators and the event-source pollers; serverless-offline and the functions run in a child
 * and are seen only through the requests they make and answer).
 */
import { type LatencySummary, summarize } from '../load.ts';

/** One request an emulator received. */
export interface Exchange {
  /** The operation: `PutItem`, `SendMessage`… (the X-Amz-Target after its dot). */
  readonly action: string;
  readonly service: 'SQS' | 'DynamoDB' | 'other';
  /** The request's headers have arrived (the server's `request` event). */
  readonly arrive: number;
  /** Its body has been read (DynamoDB only: the trace reads those bodies for the task id). */
  bodyEnd?: number;
  /** The response has been handed to the OS (`finish`). */
  finish?: number;
  /** The response's Content-Length: tells a ReceiveMessage with a message from an empty one. */
  responseBytes?: number;
  /** DynamoDB: the task the item call is about (`Item.id` or `Key.id`). */
  taskId?: string;
  /** UpdateItem: the state it writes (`:to`). */
  toState?: string;
}

/** One invocation by an SQS event source. */
export interface InvokeSpan {
  readonly functionName: string;
  /** Task ids of its records, from their bodies. */
  readonly taskIds: readonly string[];
  /** Just before the poller calls serverless-offline's Lambda API. */
  readonly start: number;
  /** When that call has answered. */
  end?: number;
}

/** One `POST /tasks` as the client saw it. */
export interface ClientSpan {
  readonly taskId: string;
  /** Just before the request is written. */
  readonly send: number;
  /** When the whole 200 has been read. */
  readonly receive: number;
}

/** Everything one task did, found by its id (and, for the SQS calls, which carry no id we read, by time). */
export interface TaskTrace {
  readonly client: ClientSpan;
  readonly put: Complete;
  readonly sendMessage: Complete;
  /** The ReceiveMessage whose answer carried the message. */
  readonly receiveMessage: Complete;
  /** ReceiveMessage answers that ended between the send arriving and the invocation (the woken idle poller's empty one, too). */
  readonly receivesAnswered: number;
  readonly invoke: Required<InvokeSpan>;
  readonly success: Complete;
  /** The wait loop's reads, in order; the last one saw SUCCESS. */
  readonly gets: readonly Complete[];
}

type Complete = Exchange & { readonly finish: number };

export interface Correlated {
  readonly traces: TaskTrace[];
  /** Tasks whose events did not add up to one clean path (a redelivery, a missing call…), with why. */
  readonly rejected: { readonly taskId: string; readonly reason: string }[];
}

interface AttributeValue {
  readonly S?: string;
}

/** The task id (and for UpdateItem, the state written) from a DynamoDB request body. */
export function taskOfBody(body: string): { taskId?: string; toState?: string } {
  try {
    const data = JSON.parse(body) as {
      Item?: Record<string, AttributeValue>;
      Key?: Record<string, AttributeValue>;
      ExpressionAttributeValues?: Record<string, AttributeValue>;
    };
    const taskId = data.Item?.id?.S ?? data.Key?.id?.S;
    const toState = data.ExpressionAttributeValues?.[':to']?.S;
    return { ...(taskId !== undefined && { taskId }), ...(toState !== undefined && { toState }) };
  } catch {
    return {};
  }
}

export const WORKER_FUNCTION = 'doozer-local-worker';

/**
 * Finds each task's calls. DynamoDB calls and invocations carry the task id; the SendMessage is the
 * one that arrived while the client waited (the trace runs at c=1, so there is exactly one), and the
 * ReceiveMessage is the largest answer that ended between that send and the invocation.
 */
export function correlate(clients: readonly ClientSpan[], exchanges: readonly Exchange[], invokes: readonly InvokeSpan[]): Correlated {
  const byTask = new Map<string, Exchange[]>();
  for (const exchange of exchanges) {
    if (exchange.taskId === undefined) continue;
    const list = byTask.get(exchange.taskId) ?? [];
    list.push(exchange);
    byTask.set(exchange.taskId, list);
  }
  const invokesByTask = new Map<string, InvokeSpan[]>();
  for (const invoke of invokes) {
    if (invoke.functionName !== WORKER_FUNCTION) continue;
    for (const id of invoke.taskIds) invokesByTask.set(id, [...(invokesByTask.get(id) ?? []), invoke]);
  }
  const sends = exchanges.filter((exchange) => exchange.action === 'SendMessage');
  const receives = exchanges.filter((exchange) => exchange.action === 'ReceiveMessage' && exchange.finish !== undefined);

  const traces: TaskTrace[] = [];
  const rejected: { taskId: string; reason: string }[] = [];
  for (const client of clients) {
    const reject = (reason: string) => rejected.push({ taskId: client.taskId, reason });
    const own = (byTask.get(client.taskId) ?? []).slice().sort((a, b) => a.arrive - b.arrive);
    const puts = own.filter((exchange) => exchange.action === 'PutItem');
    const updates = own.filter((exchange) => exchange.action === 'UpdateItem');
    const gets = own.filter((exchange) => exchange.action === 'GetItem');
    const taskSends = sends.filter((exchange) => exchange.arrive >= client.send && exchange.arrive <= client.receive);
    const taskInvokes = invokesByTask.get(client.taskId) ?? [];
    if (puts.length !== 1) { reject(`${puts.length} PutItem`); continue; }
    if (taskSends.length !== 1) { reject(`${taskSends.length} SendMessage while the client waited`); continue; }
    if (updates.length !== 1 || updates[0]!.toState !== 'SUCCESS') {
      reject(`UpdateItem ${updates.map((update) => update.toState).join(', ') || 'none'}, expected SUCCESS`);
      continue;
    }
    if (gets.length === 0) { reject('no GetItem'); continue; }
    if (taskInvokes.length !== 1) { reject(`${taskInvokes.length} worker invocations`); continue; }
    const invoke = taskInvokes[0]!;
    const sendMessage = taskSends[0]!;
    const answered = receives.filter((exchange) => exchange.finish! >= sendMessage.arrive && exchange.finish! <= invoke.start);
    const receiveMessage = answered.reduce<Exchange | undefined>(
      (best, exchange) => (best === undefined || (exchange.responseBytes ?? 0) > (best.responseBytes ?? 0) ? exchange : best),
      undefined,
    );
    if (!receiveMessage) { reject('no ReceiveMessage answered between the send and the invocation'); continue; }
    const all = [puts[0]!, sendMessage, receiveMessage, ...updates, ...gets];
    if (all.some((exchange) => exchange.finish === undefined) || invoke.end === undefined) {
      reject('a call or the invocation never ended');
      continue;
    }
    traces.push({
      client,
      put: puts[0] as Complete,
      sendMessage: sendMessage as Complete,
      receiveMessage: receiveMessage as Complete,
      receivesAnswered: answered.length,
      invoke: invoke as Required<InvokeSpan>,
      success: updates[0] as Complete,
      gets: gets as Complete[],
    });
  }
  return { traces, rejected };
}

export interface Segment {
  readonly key: string;
  readonly label: string;
  readonly ms: (trace: TaskTrace) => number;
}

const last = (trace: TaskTrace) => trace.gets.at(-1)!;

/**
 * The path that decides when the 200 arrives, as consecutive segments: each starts where the one
 * before ends, so per task they add up exactly to the client's latency (their means add up to the
 * mean latency; medians do not add up).
 */
export const CRITICAL_PATH: readonly Segment[] = [
  { key: 'toPut', label: 'client sends → PutItem arrives (HTTP and Lambda emulation in, auth, validation, SDK)', ms: (t) => t.put.arrive - t.client.send },
  { key: 'put', label: 'PutItem at dynalite (arrival → answer sent)', ms: (t) => t.put.finish - t.put.arrive },
  { key: 'putToSend', label: 'PutItem answered → SendMessage arrives', ms: (t) => t.sendMessage.arrive - t.put.finish },
  { key: 'send', label: 'SendMessage at fauxqs', ms: (t) => t.sendMessage.finish - t.sendMessage.arrive },
  { key: 'queue', label: 'SendMessage answered → the ReceiveMessage with it answered (queue hop)', ms: (t) => t.receiveMessage.finish - t.sendMessage.finish },
  { key: 'toInvoke', label: 'ReceiveMessage answered → invoke starts (poller: SDK parse, event)', ms: (t) => t.invoke.start - t.receiveMessage.finish },
  { key: 'run', label: 'invoke starts → UpdateItem SUCCESS arrives (Lambda emulation in, batch handler, run the add, SDK)', ms: (t) => t.success.arrive - t.invoke.start },
  { key: 'success', label: 'UpdateItem SUCCESS at dynalite', ms: (t) => t.success.finish - t.success.arrive },
  { key: 'catch', label: 'SUCCESS answered → the GetItem that sees it arrives (wait-loop granularity)', ms: (t) => last(t).arrive - t.success.finish },
  { key: 'get', label: 'that GetItem at dynalite', ms: (t) => last(t).finish - last(t).arrive },
  { key: 'answer', label: 'GetItem answered → client has the 200 (SDK parse, Lambda and HTTP emulation out)', ms: (t) => t.client.receive - last(t).finish },
];

/** Figures beside the path: they overlap it or follow the 200. */
export const SIDE_FIGURES: readonly Segment[] = [
  { key: 'total', label: 'client sends → client has the 200 (the sync latency)', ms: (t) => t.client.receive - t.client.send },
  { key: 'sendToInvoke', label: 'SendMessage arrives → invoke starts (message in SQS → worker invoked)', ms: (t) => t.invoke.start - t.sendMessage.arrive },
  { key: 'sendToSuccess', label: 'SendMessage answered → UpdateItem SUCCESS answered (worker side in all)', ms: (t) => t.success.finish - t.sendMessage.finish },
  { key: 'firstRead', label: 'SendMessage answered → first GetItem arrives (schedule 1st offset + API overhead)', ms: (t) => t.gets[0]!.arrive - t.sendMessage.finish },
  { key: 'catchOffset', label: 'SendMessage answered → the GetItem that sees SUCCESS arrives', ms: (t) => last(t).arrive - t.sendMessage.finish },
  { key: 'invoke', label: 'worker invocation, start → end (as the poller sees it)', ms: (t) => t.invoke.end - t.invoke.start },
  { key: 'successToInvokeEnd', label: 'UpdateItem SUCCESS answered → invocation ends (handler return, Lambda emulation out)', ms: (t) => t.invoke.end - t.success.finish },
  { key: 'putBody', label: 'PutItem: arrival → body read (at dynalite)', ms: (t) => (t.put.bodyEnd ?? t.put.arrive) - t.put.arrive },
];

export interface SegmentFigure extends LatencySummary {
  readonly key: string;
  readonly label: string;
  readonly n: number;
}

export interface Breakdown {
  readonly tasks: number;
  readonly criticalPath: readonly SegmentFigure[];
  readonly side: readonly SegmentFigure[];
  /** Every GetItem of the wait loops at dynalite, arrival → answer sent (per read, not per task). */
  readonly readService: SegmentFigure;
  /** The wait loop's reads per task: how many tasks made 1, 2, 3… reads (the last one saw SUCCESS). */
  readonly readsPerTask: Readonly<Record<number, number>>;
  readonly meanReads: number;
  /** The sync latency of the tasks whose wait loop made 1, 2, 3… reads. */
  readonly latencyByReads: Readonly<Record<number, LatencySummary & { readonly n: number }>>;
  /** Mean of the critical-path segments' means: equals the mean latency (a check of the arithmetic). */
  readonly sumOfMeans: number;
}

export function breakdown(traces: readonly TaskTrace[]): Breakdown {
  const figure = (segment: Segment, values: number[]): SegmentFigure => ({
    key: segment.key,
    label: segment.label,
    n: values.length,
    ...summarize(values),
  });
  const criticalPath = CRITICAL_PATH.map((segment) => figure(segment, traces.map(segment.ms)));
  const side = SIDE_FIGURES.map((segment) => figure(segment, traces.map(segment.ms)));
  const readService = figure(
    { key: 'read', label: 'each GetItem of the wait loop at dynalite (per read)', ms: () => Number.NaN },
    traces.flatMap((t) => t.gets.map((get) => get.finish - get.arrive)),
  );
  const readsPerTask: Record<number, number> = {};
  for (const trace of traces) readsPerTask[trace.gets.length] = (readsPerTask[trace.gets.length] ?? 0) + 1;
  const meanReads = traces.length === 0 ? Number.NaN : traces.reduce((sum, t) => sum + t.gets.length, 0) / traces.length;
  const latencyByReads: Record<number, LatencySummary & { n: number }> = {};
  for (const reads of Object.keys(readsPerTask).map(Number)) {
    const latencies = traces.filter((t) => t.gets.length === reads).map((t) => t.client.receive - t.client.send);
    latencyByReads[reads] = { n: latencies.length, ...summarize(latencies) };
  }
  const sumOfMeans = Math.round(criticalPath.reduce((sum, segment) => sum + segment.mean, 0) * 100) / 100;
  return { tasks: traces.length, criticalPath, side, readService, readsPerTask, meanReads, latencyByReads, sumOfMeans };
}
