/**
 * A model of one sync task (`POST /tasks`, answered 200) on AWS, for a place we cannot measure from
 * here: published latency distributions per hop, fitted as lognormals from their p50 and p99 (and
 * p10, where the source gives it: a shifted lognormal), driven
 * through the API's real wait-loop schedule (`readOffsets` from lib/tasks/wait-policy.ts), Monte-Carlo
 * sampled with a seeded PRNG so every run prints the same figures. It reports the time to answer, the
 * DynamoDB reads per task and the cost per million sync tasks at public on-demand prices, and compares
 * wait-loop schedules. `npx tsx bench/aws-model.ts` (or `npm run bench:model`); `--samples N`,
 * `--seed S`, `--all` (every schedule tried). Every function here is pure; only `main` prints.
 * The figures and their sources are written up in BENCHMARKS.md, "On AWS, by model".
 *
 * The path of one task, as the code does it (lib/tasks/task-service.ts, task-worker.ts):
 *   API Gateway -> API Lambda (warm) -> PutItem PENDING and SendMessage at once -> once both have
 *   answered, the wait loop: consistent GetItem at readOffsets(schedule, 5000 ms) counted from the
 *   start of the two writes, until SUCCESS -> 200.
 *   Meanwhile: SQS -> event source mapping -> worker Lambda -> run -> UpdateItem SUCCESS (one
 *   conditional write; there is no STARTED write). The event source mapping's ReceiveMessage and
 *   DeleteMessage(Batch) are SQS requests billed to the queue's owner.
 */
import { pathToFileURL } from 'node:url';
import { type BackoffSchedule, DEFAULT_BACKOFF, MAX_WAIT_SECONDS, dueOffsets, readOffsets } from '../lib/tasks/wait-policy.ts';

// ---------------------------------------------------------------------------------------------
// Random numbers and lognormals

/** A seeded uniform PRNG on [0, 1) (mulberry32): small, fast, and the same on every machine. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller; uses two uniforms, keeps no state). */
export function standardNormal(random: () => number): number {
  const u1 = 1 - random(); // (0, 1]: log(0) never happens
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** The 0.99 and 0.90 quantiles of the standard normal. */
export const Z99 = 2.3263478740408408;
export const Z90 = 1.2815515655446004;

/** `shift + exp(mu + sigma * Z)`: a lognormal, moved right by a floor no sample goes below. */
export interface LogNormal {
  readonly mu: number;
  readonly sigma: number;
  readonly shift: number;
}

/** The lognormal whose median is `p50` and whose 99th percentile is `p99`. */
export function fitLogNormal(p50: number, p99: number): LogNormal {
  if (!(p50 > 0 && p99 >= p50)) throw new RangeError(`need 0 < p50 <= p99, got p50=${p50} p99=${p99}`);
  return { mu: Math.log(p50), sigma: (Math.log(p99) - Math.log(p50)) / Z99, shift: 0 };
}

/**
 * The shifted lognormal through three published quantiles p10 < p50 < p99: the shift is found by
 * bisection so that the spread below and above the median imply the same sigma. When the data are
 * no tighter below the median than a plain lognormal allows, the shift is 0 (the p50/p99 fit).
 */
export function fitShiftedLogNormal(p10: number, p50: number, p99: number): LogNormal {
  if (!(p10 > 0 && p10 < p50 && p50 < p99)) throw new RangeError(`need 0 < p10 < p50 < p99, got ${p10}, ${p50}, ${p99}`);
  const mismatch = (shift: number) =>
    Math.log((p99 - shift) / (p50 - shift)) / Z99 - Math.log((p50 - shift) / (p10 - shift)) / Z90;
  if (mismatch(0) <= 0) return fitLogNormal(p50, p99);
  let low = 0;
  let high = p10;
  for (let i = 0; i < 200; i += 1) {
    const mid = (low + high) / 2;
    if (mismatch(mid) > 0) low = mid;
    else high = mid;
  }
  const shift = (low + high) / 2;
  return { mu: Math.log(p50 - shift), sigma: Math.log((p99 - shift) / (p50 - shift)) / Z99, shift };
}

/** The q-quantile of a fitted distribution, given the standard normal's q-quantile `z`. */
export function logNormalQuantile(dist: LogNormal, z: number): number {
  return dist.shift + Math.exp(dist.mu + dist.sigma * z);
}

export function sampleLogNormal(dist: LogNormal, random: () => number): number {
  return dist.shift + Math.exp(dist.mu + dist.sigma * standardNormal(random));
}

/** Nearest-rank quantile of an ascending array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

// ---------------------------------------------------------------------------------------------
// The latency model

/** One hop's latency, as published (or assumed, and then said so), in ms. */
export interface Component {
  /** Published p10 and p90, where the source gives them: p10 shapes the fit, p90 checks it. */
  readonly p10?: number;
  readonly p90?: number;
  readonly p50: number;
  readonly p99: number;
  readonly what: string;
  readonly source: string;
}

export interface LatencyModel {
  /** API Gateway HTTP API's own time (its Latency minus IntegrationLatency), both ways together. */
  readonly apiGateway: Component;
  /** A warm synchronous Lambda invoke: gateway relays the request -> handler runs, and back. */
  readonly lambdaInvoke: Component;
  readonly dynamoRead: Component;
  readonly dynamoWrite: Component;
  /** SendMessage, from the call to its answer (the API waits for it before it starts reading). */
  readonly sqsSend: Component;
  /** From the start of SendMessage to the worker's handler running (queue, poller, invoke). */
  readonly queueHop: Component;
  /** CPU in the API handler before its first call (routing, JWT verify, body validation), ms. */
  readonly apiCpuBeforeMs: number;
  /** CPU in the API handler after the last read (task view, JSON), ms. */
  readonly apiCpuAfterMs: number;
  /** CPU in the worker between its two writes (decode, run an add), ms. */
  readonly workerCpuMs: number;
  /** Worker time outside the two writes (batch processor, partial-batch response), ms. */
  readonly workerOverheadMs: number;
  /**
   * Where inside a call its effect lands, as a fraction of its duration: a write is visible from,
   * and a read sees the item as of, this point. 0.5 = the server handles it halfway through.
   */
  readonly servicePoint: number;
}

const BITESIZED = 'bitesizedserverless.com/bite/serverless-messaging-latency-compared (SQS Standard -> Lambda ESM, eu-west-1, 2022: p10 13.7, p50 16.2, p90 33.8, p99 105 ms)';
const DDB_SINGLE_DIGIT =
  'docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html ("single-digit millisecond latency"); p50/p99 assumed';
const APIGW_METRICS = 'assumed; measure as Latency - IntegrationLatency (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html)';

export const PUBLISHED_MODEL: LatencyModel = {
  apiGateway: { p50: 6, p99: 20, what: 'API Gateway HTTP API overhead', source: APIGW_METRICS },
  lambdaInvoke: {
    p50: 2,
    p99: 8,
    what: 'Lambda warm invoke overhead (API)',
    source: 'assumed; measure as IntegrationLatency - function Duration',
  },
  dynamoRead: { p50: 4, p99: 10, what: 'DynamoDB GetItem (consistent)', source: DDB_SINGLE_DIGIT },
  dynamoWrite: { p50: 4, p99: 10, what: 'DynamoDB PutItem / UpdateItem', source: DDB_SINGLE_DIGIT },
  sqsSend: {
    p50: 5,
    p99: 15,
    what: 'SQS SendMessage call',
    source: 'assumed (no published distribution found); below the hop p10 of 13.7 ms, which includes it',
  },
  queueHop: { p10: 13.7, p50: 16.2, p90: 33.8, p99: 105, what: 'SQS -> Lambda event source hop', source: BITESIZED },
  apiCpuBeforeMs: 1,
  apiCpuAfterMs: 0.5,
  workerCpuMs: 0.5,
  workerOverheadMs: 1,
  servicePoint: 0.5,
};

export interface FittedModel {
  readonly model: LatencyModel;
  readonly apiGateway: LogNormal;
  readonly lambdaInvoke: LogNormal;
  readonly dynamoRead: LogNormal;
  readonly dynamoWrite: LogNormal;
  readonly sqsSend: LogNormal;
  readonly queueHop: LogNormal;
}

/**
 * Fits each component: through p10, p50 and p99 (a shifted lognormal) where p10 is published, else
 * through p50 and p99. `p50p99Only` fits every component through p50 and p99 alone, as a check of
 * how much the answer depends on the shape between the published points.
 */
export function fitModel(model: LatencyModel, { p50p99Only = false } = {}): FittedModel {
  const fit = (c: Component) =>
    c.p10 !== undefined && !p50p99Only ? fitShiftedLogNormal(c.p10, c.p50, c.p99) : fitLogNormal(c.p50, c.p99);
  return {
    model,
    apiGateway: fit(model.apiGateway),
    lambdaInvoke: fit(model.lambdaInvoke),
    dynamoRead: fit(model.dynamoRead),
    dynamoWrite: fit(model.dynamoWrite),
    sqsSend: fit(model.sqsSend),
    queueHop: fit(model.queueHop),
  };
}

// ---------------------------------------------------------------------------------------------
// The wait loop, step for step as pollUntil runs it

export interface WaitLoopOutcome {
  /** GetItem calls made. */
  readonly reads: number;
  /** Whether a read saw the task ended (else the API answers 202). */
  readonly done: boolean;
  /** When the loop returned, in ms after the schedule's start. */
  readonly endMs: number;
}

/**
 * pollUntil (lib/tasks/wait-policy.ts) replayed on a virtual clock, the loop beginning
 * `startElapsed` ms after the schedule's start (offsets already past are one read at once): before
 * each offset it stops if a read was made and the budget is spent, else sleeps until the offset (not
 * at all if a slow read already passed it), then reads. A read that takes `d` ms and starts at `t` sees the task ended when
 * `t + servicePoint * d >= readyMs`. The test checks this against the real pollUntil.
 */
export function simulateWaitLoop(
  offsets: readonly number[],
  readyMs: number,
  budgetMs: number,
  readDuration: () => number,
  servicePoint = 0.5,
  startElapsed = 0,
): WaitLoopOutcome {
  let elapsed = startElapsed;
  let reads = 0;
  for (const offset of dueOffsets(offsets, startElapsed)) {
    if (reads > 0 && elapsed >= budgetMs) break;
    if (offset > elapsed) elapsed = offset;
    const duration = readDuration();
    const seesAt = elapsed + servicePoint * duration;
    elapsed += duration;
    reads += 1;
    if (seesAt >= readyMs) return { reads, done: true, endMs: elapsed };
  }
  return { reads, done: false, endMs: elapsed };
}

// ---------------------------------------------------------------------------------------------
// One sync task end to end

export interface TaskSample {
  /** From API Gateway receiving the request to it answering, ms. */
  readonly answerMs: number;
  /** The same with a wait loop that reads exactly when the result becomes visible (one read). */
  readonly floorMs: number;
  readonly reads: number;
  readonly done: boolean;
  /** The SUCCESS write visible, ms after the API's wait loop started. */
  readonly readyAfterLoopStartMs: number;
  /** Billed Lambda duration (rounded up to 1 ms), API and worker. */
  readonly apiBilledMs: number;
  readonly workerBilledMs: number;
}

export function simulateTask(
  fitted: FittedModel,
  offsets: readonly number[],
  budgetMs: number,
  random: () => number,
): TaskSample {
  const m = fitted.model;
  const draw = (d: LogNormal) => sampleLogNormal(d, random);
  const gatewayHalf = draw(fitted.apiGateway) / 2;
  const handlerStart = gatewayHalf + draw(fitted.lambdaInvoke);
  // PutItem PENDING and SendMessage at once (TaskService): the loop starts when both have answered.
  const sendStart = handlerStart + m.apiCpuBeforeMs;
  const recorded = sendStart + draw(fitted.dynamoWrite);
  const loopStart = Math.max(recorded, sendStart + draw(fitted.sqsSend));

  const workerStart = sendStart + draw(fitted.queueHop);
  const finished = draw(fitted.dynamoWrite); // UpdateItem SUCCESS
  const readyAt = workerStart + m.workerCpuMs + m.servicePoint * finished;
  const workerEnd = workerStart + m.workerCpuMs + finished + m.workerOverheadMs;

  // The floor: one read, landing exactly when the result turns visible (never before the loop starts).
  const floorRead = draw(fitted.dynamoRead);
  // The wait loop's reads come from a stream of their own, seeded per task: the task's other draws
  // are the same whatever the schedule, and so is its k-th read (common random numbers), so two
  // schedules are compared on the same tasks.
  const readRandom = mulberry32(Math.floor(random() * 4294967296));
  // The schedule counts from the start of the two writes (TaskService), the loop begins once both answered.
  const loop = simulateWaitLoop(
    offsets,
    readyAt - sendStart,
    budgetMs,
    () => sampleLogNormal(fitted.dynamoRead, readRandom),
    m.servicePoint,
    loopStart - sendStart,
  );
  const handlerEnd = sendStart + loop.endMs + m.apiCpuAfterMs;

  const floorReadStart = Math.max(loopStart, readyAt - m.servicePoint * floorRead);
  const floorEnd = floorReadStart + floorRead + m.apiCpuAfterMs + gatewayHalf;

  return {
    answerMs: handlerEnd + gatewayHalf,
    floorMs: floorEnd,
    reads: loop.reads,
    done: loop.done,
    readyAfterLoopStartMs: readyAt - loopStart,
    apiBilledMs: Math.ceil(handlerEnd - handlerStart),
    workerBilledMs: Math.ceil(workerEnd - workerStart),
  };
}

export interface SimulationResult {
  readonly samples: number;
  readonly answerP50: number;
  readonly answerP90: number;
  readonly answerP99: number;
  readonly answerP999: number;
  readonly floorP50: number;
  readonly floorP99: number;
  readonly readsMean: number;
  readonly readsP50: number;
  readonly readsP99: number;
  readonly readsMax: number;
  /** Share of tasks not seen ended within the budget (answered 202). */
  readonly deferredShare: number;
  readonly readyP50: number;
  readonly readyP99: number;
  readonly apiBilledMeanMs: number;
  readonly workerBilledMeanMs: number;
}

export interface SimulationOptions {
  readonly samples: number;
  readonly seed: number;
  readonly budgetMs?: number;
}

/** Monte-Carlo over `samples` tasks with the given read offsets; the same seed gives the same result. */
export function simulate(fitted: FittedModel, offsets: readonly number[], options: SimulationOptions): SimulationResult {
  const { samples, seed, budgetMs = MAX_WAIT_SECONDS * 1000 } = options;
  const random = mulberry32(seed);
  const answer = new Float64Array(samples);
  const floor = new Float64Array(samples);
  const reads = new Float64Array(samples);
  const ready = new Float64Array(samples);
  let readsSum = 0;
  let deferred = 0;
  let apiBilled = 0;
  let workerBilled = 0;
  for (let i = 0; i < samples; i += 1) {
    const task = simulateTask(fitted, offsets, budgetMs, random);
    answer[i] = task.answerMs;
    floor[i] = task.floorMs;
    reads[i] = task.reads;
    ready[i] = task.readyAfterLoopStartMs;
    readsSum += task.reads;
    if (!task.done) deferred += 1;
    apiBilled += task.apiBilledMs;
    workerBilled += task.workerBilledMs;
  }
  for (const array of [answer, floor, reads, ready]) array.sort();
  return {
    samples,
    answerP50: quantile(answer, 0.5),
    answerP90: quantile(answer, 0.9),
    answerP99: quantile(answer, 0.99),
    answerP999: quantile(answer, 0.999),
    floorP50: quantile(floor, 0.5),
    floorP99: quantile(floor, 0.99),
    readsMean: readsSum / samples,
    readsP50: quantile(reads, 0.5),
    readsP99: quantile(reads, 0.99),
    readsMax: reads[samples - 1] ?? 0,
    deferredShare: deferred / samples,
    readyP50: quantile(ready, 0.5),
    readyP99: quantile(ready, 0.99),
    apiBilledMeanMs: apiBilled / samples,
    workerBilledMeanMs: workerBilled / samples,
  };
}

// ---------------------------------------------------------------------------------------------
// Cost

/** Public on-demand prices, us-east-1, USD. */
export interface Prices {
  readonly apiGatewayHttpPerMillion: number;
  readonly lambdaRequestPerMillion: number;
  readonly lambdaArmPerGbSecond: number;
  readonly sqsStandardPerMillion: number;
  readonly dynamoWriteUnitPerMillion: number;
  readonly dynamoReadUnitPerMillion: number;
}

export const PRICES: Prices = {
  apiGatewayHttpPerMillion: 1.0,
  lambdaRequestPerMillion: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  sqsStandardPerMillion: 0.4,
  dynamoWriteUnitPerMillion: 0.625,
  dynamoReadUnitPerMillion: 0.125,
};

export const PRICE_SOURCES: Record<keyof Prices, string> = {
  apiGatewayHttpPerMillion:
    'HTTP API, first 300 M requests/month, metered per 512 KB: aws.amazon.com/api-gateway/pricing; also docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html',
  lambdaRequestPerMillion: 'aws.amazon.com/lambda/pricing (requests, any architecture)',
  lambdaArmPerGbSecond:
    'aws.amazon.com/lambda/pricing (Arm, first 7.5 B GB-s/month; duration rounded up to 1 ms)',
  sqsStandardPerMillion:
    'aws.amazon.com/sqs/pricing (standard queue, after the first 1 M free; each 64 KB chunk of a payload is one request)',
  dynamoWriteUnitPerMillion:
    'aws.amazon.com/dynamodb/pricing/on-demand (since the Nov 2024 cut; 1 WRU = a standard write of up to 1 KB)',
  dynamoReadUnitPerMillion:
    'aws.amazon.com/dynamodb/pricing/on-demand (1 RRU = a strongly consistent read of up to 4 KB)',
};

/** What one sync task uses of each billed thing. */
export interface TaskUsage {
  readonly apiGatewayRequests: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly sqsRequests: number;
  readonly dynamoWriteUnits: number;
  readonly dynamoReadUnits: number;
}

export interface UsageOptions {
  /** Lambda memory, MB (serverless.yml: 512 for every function). */
  readonly memoryMb: number;
  /** Tasks per worker invocation (batchSize 10, batching window 0: 1 at low load). */
  readonly tasksPerBatch: number;
}

/**
 * Per sync task: 1 API Gateway request; Lambda: the API invocation, 1/batch worker invocation, and
 * both functions' billed time at `memoryMb`; SQS: SendMessage, plus the event source mapping's
 * ReceiveMessage and DeleteMessage(Batch), one each per batch (its empty long polls are a fixed
 * cost per poller, not per task); DynamoDB: PutItem PENDING (1 WRU) plus its entry in the sparse
 * open-tasks index (1 WRU), UpdateItem SUCCESS (1 WRU) plus its removal from the index (1 WRU):
 * 4 WRU, items under 1 KB;
 * and one RRU per consistent GetItem of an item under 4 KB.
 */
export function taskUsage(
  result: Pick<SimulationResult, 'readsMean' | 'apiBilledMeanMs' | 'workerBilledMeanMs'>,
  options: UsageOptions,
): TaskUsage {
  const gb = options.memoryMb / 1024;
  return {
    apiGatewayRequests: 1,
    lambdaRequests: 1 + 1 / options.tasksPerBatch,
    lambdaGbSeconds: gb * (result.apiBilledMeanMs + result.workerBilledMeanMs / options.tasksPerBatch) / 1000,
    sqsRequests: 1 + 2 / options.tasksPerBatch,
    dynamoWriteUnits: 4,
    dynamoReadUnits: result.readsMean,
  };
}

export interface CostBreakdown {
  readonly apiGateway: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly sqs: number;
  readonly dynamoWrites: number;
  readonly dynamoReads: number;
  readonly total: number;
}

/** USD per million tasks of the given usage. */
export function costPerMillion(usage: TaskUsage, prices: Prices = PRICES): CostBreakdown {
  const parts = {
    apiGateway: usage.apiGatewayRequests * prices.apiGatewayHttpPerMillion,
    lambdaRequests: usage.lambdaRequests * prices.lambdaRequestPerMillion,
    lambdaDuration: usage.lambdaGbSeconds * 1e6 * prices.lambdaArmPerGbSecond,
    sqs: usage.sqsRequests * prices.sqsStandardPerMillion,
    dynamoWrites: usage.dynamoWriteUnits * prices.dynamoWriteUnitPerMillion,
    dynamoReads: usage.dynamoReadUnits * prices.dynamoReadUnitPerMillion,
  };
  return { ...parts, total: Object.values(parts).reduce((sum, value) => sum + value, 0) };
}

/** SQS receives one idle event-source poller makes in a 30-day month (20 s long polls). */
export const IDLE_RECEIVES_PER_POLLER_MONTH = (30 * 24 * 3600) / 20;

// ---------------------------------------------------------------------------------------------
// Schedules

export interface Candidate {
  readonly label: string;
  /** The schedule as BackoffSchedule, when the current readOffsets can express it. */
  readonly schedule?: BackoffSchedule;
  readonly offsets: readonly number[];
}

export function backoffCandidate(schedule: BackoffSchedule, budgetMs: number): Candidate {
  const { initialDelayMs: i, multiplier: x, maxDelayMs: cap } = schedule;
  return { label: `${i} ms, x${x}, cap ${cap}`, schedule, offsets: readOffsets(schedule, budgetMs) };
}

/**
 * A first read at `firstMs`, then the backoff schedule from there (the real readOffsets, shifted):
 * the "first read when the result is likely" shape. Not expressible by BackoffSchedule today; it
 * would need one more field (e.g. `firstDelayMs`) in lib/tasks/wait-policy.ts.
 */
export function firstReadCandidate(firstMs: number, schedule: BackoffSchedule, budgetMs: number): Candidate {
  const rest = readOffsets(schedule, budgetMs - firstMs).map((offset) => offset + firstMs);
  const { initialDelayMs: i, multiplier: x, maxDelayMs: cap } = schedule;
  return { label: `first ${firstMs} ms, then ${i} ms, x${x}, cap ${cap}`, offsets: [firstMs, ...rest] };
}

export function candidateSchedules(budgetMs: number): Candidate[] {
  const candidates: Candidate[] = [];
  for (const initialDelayMs of [5, 10, 15, 20, 25, 30, 35]) {
    for (const multiplier of [1.5, 2]) {
      for (const maxDelayMs of [100, 250, 500]) {
        candidates.push(backoffCandidate({ initialDelayMs, multiplier, maxDelayMs }, budgetMs));
      }
    }
  }
  for (const firstMs of [15, 20, 25, 30, 35]) {
    for (const initialDelayMs of [5, 10]) {
      for (const maxDelayMs of [100, 250]) {
        candidates.push(firstReadCandidate(firstMs, { initialDelayMs, multiplier: 2, maxDelayMs }, budgetMs));
      }
    }
  }
  return candidates;
}

export interface Evaluated {
  readonly candidate: Candidate;
  readonly result: SimulationResult;
  readonly cost: CostBreakdown;
}

/** The candidates no other candidate beats on both p50 time to answer and mean reads. */
export function paretoFront(rows: readonly Evaluated[]): Evaluated[] {
  const seen = new Set<string>();
  return rows
    .filter((row) => {
      // Schedules that differ only past the 99th percentile give the same figures: keep the first.
      const key = `${row.result.answerP50}|${row.result.answerP99}|${row.result.answerP999}|${row.result.readsMean}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .filter(
      (row) =>
        !rows.some(
          (other) =>
            other !== row &&
            other.result.answerP50 <= row.result.answerP50 &&
            other.result.readsMean <= row.result.readsMean &&
            (other.result.answerP50 < row.result.answerP50 || other.result.readsMean < row.result.readsMean),
        ),
    )
    .sort((a, b) => a.result.readsMean - b.result.readsMean);
}

/**
 * The best p50 among candidates whose mean and p99 reads stay within the bounds; ties go to fewer
 * reads, then the better p99.
 */
export function bestWithinReads(rows: readonly Evaluated[], maxMeanReads: number, maxP99Reads: number): Evaluated | undefined {
  return rows
    .filter((row) => row.result.readsMean <= maxMeanReads && row.result.readsP99 <= maxP99Reads)
    .sort(
      (a, b) =>
        a.result.answerP50 - b.result.answerP50 ||
        a.result.readsMean - b.result.readsMean ||
        a.result.answerP99 - b.result.answerP99,
    )[0];
}

/**
 * The other candidates that match `best` up to the 99th percentile (p50 within 0.1 ms, p99 within
 * 0.5 ms, mean reads within 0.01): they differ only beyond what the published figures describe.
 */
export function tiesOf(best: Evaluated, rows: readonly Evaluated[]): Evaluated[] {
  return rows.filter(
    (row) =>
      row !== best &&
      Math.abs(row.result.answerP50 - best.result.answerP50) < 0.1 &&
      Math.abs(row.result.answerP99 - best.result.answerP99) < 0.5 &&
      Math.abs(row.result.readsMean - best.result.readsMean) < 0.01,
  );
}

// ---------------------------------------------------------------------------------------------
// The command line

const USAGE: UsageOptions = { memoryMb: 512, tasksPerBatch: 1 };

export function evaluate(fitted: FittedModel, candidate: Candidate, options: SimulationOptions): Evaluated {
  const result = simulate(fitted, candidate.offsets, options);
  return { candidate, result, cost: costPerMillion(taskUsage(result, USAGE)) };
}

/**
 * What the model recommends for DEFAULT_BACKOFF: the best p50 within READ_BOUNDS. Caps of 100, 250
 * and 500 ms give the same figures up to p99; the cap only trades the far tail (beyond the published
 * p99) against reads when the 5 s budget runs out, so 250 stays.
 */
export const RECOMMENDED_BACKOFF: BackoffSchedule = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 250 };

/** The read bounds the recommendation is chosen within: mean reads, and reads at p99. */
export const READ_BOUNDS = { mean: 1.5, p99: 3 } as const;

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} needs a positive integer`);
  return value;
}

const ms = (value: number) => value.toFixed(1);
const usd = (value: number) => `$${value.toFixed(3)}`;

function row(evaluated: Evaluated, note = ''): string {
  const r = evaluated.result;
  const label = evaluated.candidate.schedule ? evaluated.candidate.label : `${evaluated.candidate.label} *`;
  const timeout = evaluated.candidate.offsets.length;
  return `| ${label}${note} | ${ms(r.answerP50)} | ${ms(r.answerP99)} | ${ms(r.answerP999)} | ${r.readsMean.toFixed(2)} | ${r.readsP99} | ${timeout} | ${usd(evaluated.cost.total)} |`;
}

const TABLE_HEAD = [
  '| Schedule | p50 ms | p99 ms | p99.9 ms | reads mean | reads p99 | reads if not done in 5 s | $ per M tasks |',
  '|---|---|---|---|---|---|---|---|',
];

function main(): void {
  const samples = argument('--samples', 100_000);
  const seed = argument('--seed', 20_260_101);
  const budgetMs = MAX_WAIT_SECONDS * 1000;
  const fitted = fitModel(PUBLISHED_MODEL);
  const plainFit = fitModel(PUBLISHED_MODEL, { p50p99Only: true });
  const options: SimulationOptions = { samples, seed, budgetMs };
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);

  out(`AWS model of one sync task: ${samples} samples, seed ${seed}, wait budget ${budgetMs} ms, Lambda 512 MB arm64, warm`);
  out();
  out('| Component | published / assumed (ms) | fitted: shift, mu, sigma | fitted p10 / p90 | Source |');
  out('|---|---|---|---|---|');
  const names = ['apiGateway', 'lambdaInvoke', 'dynamoRead', 'dynamoWrite', 'sqsSend', 'queueHop'] as const;
  for (const name of names) {
    const c = PUBLISHED_MODEL[name];
    const d = fitted[name];
    const given = [c.p10 && `p10 ${c.p10}`, `p50 ${c.p50}`, c.p90 && `p90 ${c.p90}`, `p99 ${c.p99}`].filter(Boolean).join(', ');
    const check = `${ms(logNormalQuantile(d, -Z90))} / ${ms(logNormalQuantile(d, Z90))}`;
    out(`| ${c.what} | ${given} | ${d.shift.toFixed(2)}, ${d.mu.toFixed(3)}, ${d.sigma.toFixed(3)} | ${check} | ${c.source} |`);
  }
  const hop = plainFit.queueHop;
  out();
  out(`(The hop fitted through p50 and p99 alone would put its p10 / p90 at ${ms(logNormalQuantile(hop, -Z90))} / ${ms(logNormalQuantile(hop, Z90))} ms against the published 13.7 / 33.8: hence the shifted fit.)`);
  out();

  const current = evaluate(fitted, backoffCandidate(DEFAULT_BACKOFF, budgetMs), options);
  const r = current.result;
  out(`Current schedule (DEFAULT_BACKOFF: ${current.candidate.label}); reads at ${current.candidate.offsets.slice(0, 8).join(', ')} ... ms after the record and the send start`);
  out(`- time to answer: p50 ${ms(r.answerP50)} ms, p90 ${ms(r.answerP90)} ms, p99 ${ms(r.answerP99)} ms, p99.9 ${ms(r.answerP999)} ms`);
  out(`- floor (one read landing exactly when the result turns visible): p50 ${ms(r.floorP50)} ms, p99 ${ms(r.floorP99)} ms`);
  out(`- result visible after the wait loop starts: p50 ${ms(r.readyP50)} ms, p99 ${ms(r.readyP99)} ms`);
  out(`- DynamoDB reads per task: mean ${r.readsMean.toFixed(2)}, p50 ${r.readsP50}, p99 ${r.readsP99}, max ${r.readsMax}; answered 202: ${(r.deferredShare * 100).toFixed(3)} %`);
  out(`- billed Lambda duration (mean): API ${ms(r.apiBilledMeanMs)} ms, worker ${ms(r.workerBilledMeanMs)} ms`);
  const usage = taskUsage(r, USAGE);
  const c = current.cost;
  out();
  out('| Cost per million sync tasks | Per task | USD |');
  out('|---|---|---|');
  out(`| API Gateway HTTP API | ${usage.apiGatewayRequests} request | ${usd(c.apiGateway)} |`);
  out(`| Lambda requests | ${usage.lambdaRequests} invocations (API, worker) | ${usd(c.lambdaRequests)} |`);
  out(`| Lambda duration | ${usage.lambdaGbSeconds.toFixed(5)} GB-s | ${usd(c.lambdaDuration)} |`);
  out(`| SQS | ${usage.sqsRequests} requests (SendMessage; the event source's ReceiveMessage and DeleteMessage) | ${usd(c.sqs)} |`);
  out(`| DynamoDB writes | ${usage.dynamoWriteUnits} WRU (2 table writes, 2 open-tasks index writes) | ${usd(c.dynamoWrites)} |`);
  out(`| DynamoDB reads | ${usage.dynamoReadUnits.toFixed(2)} RRU (consistent GetItem) | ${usd(c.dynamoReads)} |`);
  out(`| **Total** | | **${usd(c.total)}** |`);
  out();
  out(`Not per task: each idle event-source poller long-polls (20 s): ${IDLE_RECEIVES_PER_POLLER_MONTH.toLocaleString('en-US')} receives a month = ${usd((IDLE_RECEIVES_PER_POLLER_MONTH / 1e6) * PRICES.sqsStandardPerMillion)} a month per poller.`);
  out();

  const candidates = candidateSchedules(budgetMs).filter((candidate) => candidate.label !== current.candidate.label);
  const all = [current, ...candidates.map((candidate) => evaluate(fitted, candidate, options))];
  const full = process.argv.includes('--all');
  out(full ? 'Every schedule (* = a first read at a fixed time, which BackoffSchedule cannot express today):' : 'Trade-off: the schedules no other beats on both p50 and mean reads, and the current one (--all for every schedule; * = not expressible by BackoffSchedule today):');
  out();
  for (const line of TABLE_HEAD) out(line);
  const recommended = all.find((row) => row.candidate.label === backoffCandidate(RECOMMENDED_BACKOFF, budgetMs).label)!;
  const shown = full ? [...all] : paretoFront(all);
  for (const pinned of [current, recommended]) if (!shown.includes(pinned)) shown.push(pinned);
  shown.sort((a, b) => a.result.readsMean - b.result.readsMean || a.result.answerP50 - b.result.answerP50);
  const note = (evaluated: Evaluated) => (evaluated === current ? ' (current)' : evaluated === recommended ? ' (recommended)' : '');
  for (const evaluated of shown) out(row(evaluated, note(evaluated)));
  out();

  const expressible = all.filter((row) => row.candidate.schedule);
  const picks: [string, Evaluated | undefined][] = [
    [`best p50 with reads mean <= ${READ_BOUNDS.mean} and p99 <= ${READ_BOUNDS.p99}, expressible today`, bestWithinReads(expressible, READ_BOUNDS.mean, READ_BOUNDS.p99)],
    [`best p50 with reads mean <= ${READ_BOUNDS.mean} and p99 <= ${READ_BOUNDS.p99}, any shape`, bestWithinReads(all, READ_BOUNDS.mean, READ_BOUNDS.p99)],
    [`best p50 with no more reads than today (mean <= ${r.readsMean.toFixed(2)}, p99 <= ${r.readsP99})`, bestWithinReads(all, r.readsMean, r.readsP99)],
  ];
  for (const [what, pick] of picks) {
    if (!pick) continue;
    const ties = tiesOf(pick, all);
    out(`${what}: ${pick.candidate.label}` + (ties.length ? ` (the same up to p99: ${ties.map((tie) => tie.candidate.label).join('; ')})` : ''));
  }
  out();
  out('The same schedules with every component fitted through p50 and p99 only (a check of the shape assumption):');
  out();
  for (const line of TABLE_HEAD) out(line);
  const checked = new Set<Candidate>([current.candidate, recommended.candidate, ...picks.flatMap(([, pick]) => (pick ? [pick.candidate] : []))]);
  for (const candidate of checked) {
    const plain = evaluate(plainFit, candidate, options);
    out(row(plain, candidate === current.candidate ? ' (current)' : candidate === recommended.candidate ? ' (recommended)' : ''));
  }
  out();
  const rr = recommended.result;
  out(`Recommended: ${recommended.candidate.label} (reads at ${recommended.candidate.offsets.slice(0, 6).join(', ')} ... ms): p50 ${ms(rr.answerP50)} ms (today ${ms(r.answerP50)}), p99 ${ms(rr.answerP99)} ms (today ${ms(r.answerP99)}), reads mean ${rr.readsMean.toFixed(2)} (today ${r.readsMean.toFixed(2)}), p99 ${rr.readsP99} (today ${r.readsP99}), ${usd(recommended.cost.total)} per million tasks (today ${usd(current.cost.total)}).`);
  console.log(lines.join('\n'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
