import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Counts what a task costs, at the places where the calls really happen:
 * - AWS calls: every request the embedded SQS and DynamoDB emulators receive, by its X-Amz-Target
 *   (`AmazonSQS.SendMessage`, `DynamoDB_20120810.GetItem`), whoever sent it: the api and worker
 *   functions in serverless-offline and the event-source pollers in this process;
 * - Lambda invocations: every request the benchmark sends to the API (API Gateway invokes the api
 *   function once per request) plus every invocation the SQS event sources make, with its records.
 */
export class CallCounter {
  readonly #aws = new Map<string, number>();
  readonly #invocations = new Map<string, number>();
  readonly #records = new Map<string, number>();
  readonly #busyMs = new Map<string, number>();
  readonly #ended = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  readonly #peakInFlight = new Map<string, number>();
  #apiRequests = 0;
  #changes = 0;

  /** For startLocalStack's `observe` option. */
  readonly observer = {
    onAwsRequest: (action: string) => {
      this.#aws.set(action, (this.#aws.get(action) ?? 0) + 1);
      this.#changes += 1;
    },
    onInvoke: (functionName: string, records: number) => {
      this.#invocations.set(functionName, (this.#invocations.get(functionName) ?? 0) + 1);
      this.#records.set(functionName, (this.#records.get(functionName) ?? 0) + records);
      this.#changes += 1;
      // Timed from the poller's call to serverless-offline's Lambda API to its answer.
      const started = performance.now();
      const running = (this.#inFlight.get(functionName) ?? 0) + 1;
      this.#inFlight.set(functionName, running);
      this.#peakInFlight.set(functionName, Math.max(this.#peakInFlight.get(functionName) ?? 0, running));
      return () => {
        this.#inFlight.set(functionName, (this.#inFlight.get(functionName) ?? 1) - 1);
        this.#busyMs.set(functionName, (this.#busyMs.get(functionName) ?? 0) + performance.now() - started);
        this.#ended.set(functionName, (this.#ended.get(functionName) ?? 0) + 1);
      };
    },
  };

  /**
   * How long the event sources' invocations took, by function: the invocations ended, their summed
   * duration (busy ms over a window ÷ the window = invocations running at once on average) and the
   * most running at once since the last `resetPeaks()`.
   */
  invocationTiming(): InvocationTiming {
    return {
      ended: Object.fromEntries(this.#ended),
      busyMs: Object.fromEntries(this.#busyMs),
      peakInFlight: Object.fromEntries(this.#peakInFlight),
    };
  }

  /** Starts the peaks of `invocationTiming()` again from the invocations running now. */
  resetPeaks(): void {
    this.#peakInFlight.clear();
    for (const [name, running] of this.#inFlight) this.#peakInFlight.set(name, running);
  }

  countApiRequest(): void {
    this.#apiRequests += 1;
    this.#changes += 1;
  }

  snapshot(): CallCounts {
    return {
      aws: Object.fromEntries(this.#aws),
      invocations: Object.fromEntries(this.#invocations),
      records: Object.fromEntries(this.#records),
      apiRequests: this.#apiRequests,
    };
  }

  /**
   * Resolves once nothing was counted for `quietMs`, so the work that trails a phase (the poller's
   * delete of the last batch, its next receive) lands in that phase and not in the next. Gives up
   * after `timeoutMs` (a long poll that times out can always arrive).
   */
  async settle({ quietMs = 300, timeoutMs = 5_000 } = {}): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let seen = this.#changes;
    let quietSince = performance.now();
    while (performance.now() < deadline) {
      await sleep(25);
      if (this.#changes !== seen) {
        seen = this.#changes;
        quietSince = performance.now();
      } else if (performance.now() - quietSince >= quietMs) {
        return;
      }
    }
  }
}

export interface InvocationTiming {
  readonly ended: Readonly<Record<string, number>>;
  readonly busyMs: Readonly<Record<string, number>>;
  readonly peakInFlight: Readonly<Record<string, number>>;
}

export interface CallCounts {
  /** Requests the emulators received, by X-Amz-Target. */
  readonly aws: Readonly<Record<string, number>>;
  /** Event-source invocations, by function name. */
  readonly invocations: Readonly<Record<string, number>>;
  /** Records handed to those invocations, by function name. */
  readonly records: Readonly<Record<string, number>>;
  /** Requests the benchmark sent to the API: one api function invocation each. */
  readonly apiRequests: number;
}

const DYNAMODB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const DYNAMODB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** Calls per task over one phase: the counts after it minus the counts before it, divided by its tasks. */
export interface PerTaskCalls {
  readonly tasks: number;
  /** Per task, by call: `SQS SendMessage`, `DynamoDB GetItem`… (a batched call counts 1/N for each of its N messages). */
  readonly byCall: Readonly<Record<string, number>>;
  readonly sqs: number;
  readonly dynamodbReads: number;
  readonly dynamodbWrites: number;
  /** Emulator requests that are neither SQS calls nor DynamoDB item reads or writes (DescribeTable…); expected 0. */
  readonly otherCalls: number;
  /** SQS + DynamoDB calls. */
  readonly aws: number;
  readonly lambda: {
    readonly api: number;
    /** Event-source invocations, by function name. */
    readonly byFunction: Readonly<Record<string, number>>;
    readonly total: number;
  };
  /** Mean records per event-source invocation, by function name. */
  readonly recordsPerInvocation: Readonly<Record<string, number>>;
  /** The raw differences behind the averages. */
  readonly counted: CallCounts;
}

export function perTask(before: CallCounts, after: CallCounts, tasks: number): PerTaskCalls {
  const counted: CallCounts = {
    aws: difference(before.aws, after.aws),
    invocations: difference(before.invocations, after.invocations),
    records: difference(before.records, after.records),
    apiRequests: after.apiRequests - before.apiRequests,
  };
  const per = (count: number) => (tasks > 0 ? count / tasks : Number.NaN);
  const byCall: Record<string, number> = {};
  let sqs = 0;
  let reads = 0;
  let writes = 0;
  let other = 0;
  for (const [target, count] of Object.entries(counted.aws).sort(([a], [b]) => a.localeCompare(b))) {
    const { service, operation } = parseTarget(target);
    byCall[`${service} ${operation}`] = per(count);
    if (service === 'SQS') sqs += count;
    else if (service === 'DynamoDB' && DYNAMODB_READS.has(operation)) reads += count;
    else if (service === 'DynamoDB' && DYNAMODB_WRITES.has(operation)) writes += count;
    else other += count;
  }
  const byFunction = Object.fromEntries(Object.entries(counted.invocations).map(([name, count]) => [name, per(count)]));
  const invocations = Object.values(counted.invocations).reduce((sum, count) => sum + count, 0);
  return {
    tasks,
    byCall,
    sqs: per(sqs),
    dynamodbReads: per(reads),
    dynamodbWrites: per(writes),
    otherCalls: per(other),
    aws: per(sqs + reads + writes + other),
    lambda: { api: per(counted.apiRequests), byFunction, total: per(counted.apiRequests + invocations) },
    recordsPerInvocation: Object.fromEntries(
      Object.entries(counted.invocations).map(([name, count]) => [name, count > 0 ? (counted.records[name] ?? 0) / count : 0]),
    ),
    counted,
  };
}

/** `AmazonSQS.SendMessage` -> SQS SendMessage; `DynamoDB_20120810.GetItem` -> DynamoDB GetItem. */
export function parseTarget(target: string): { service: 'SQS' | 'DynamoDB' | 'other'; operation: string } {
  const [prefix = '', operation = target] = target.split('.', 2);
  if (prefix === 'AmazonSQS') return { service: 'SQS', operation };
  if (prefix.startsWith('DynamoDB_')) return { service: 'DynamoDB', operation };
  return { service: 'other', operation: target };
}

function difference(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, count] of Object.entries(after)) {
    const delta = count - (before[key] ?? 0);
    if (delta !== 0) result[key] = delta;
  }
  return result;
}

/** No calls: what `sumCounts` starts from, and `perTask`'s baseline for counts already summed. */
export const ZERO_COUNTS: CallCounts = { aws: {}, invocations: {}, records: {}, apiRequests: 0 };

/** Several counts (of the rounds of a phase) added together. */
export function sumCounts(all: readonly CallCounts[]): CallCounts {
  const add = (pick: (counts: CallCounts) => Readonly<Record<string, number>>) => {
    const total: Record<string, number> = {};
    for (const counts of all) for (const [key, count] of Object.entries(pick(counts))) total[key] = (total[key] ?? 0) + count;
    return total;
  };
  return {
    aws: add((counts) => counts.aws),
    invocations: add((counts) => counts.invocations),
    records: add((counts) => counts.records),
    apiRequests: all.reduce((total, counts) => total + counts.apiRequests, 0),
  };
}
