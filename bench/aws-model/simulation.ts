/**
 * One sync task (`POST /tasks`, answered 200) on AWS, Monte-Carlo sampled, as the code does it
 * (lib/tasks/task-service.ts, task-worker.ts):
 *   API Gateway -> API Lambda (warm) -> PutItem PENDING and SendMessage at once -> once both have
 *   answered, the wait loop: consistent GetItem at readOffsets(schedule, 5000 ms) counted from the
 *   start of the two writes, until SUCCESS -> 200.
 *   Meanwhile: SQS -> event source mapping -> worker Lambda -> run -> UpdateItem SUCCESS (one
 *   conditional write; there is no STARTED write).
 * The wait loop is the API's own schedule (`readOffsets` from lib/tasks/wait-policy.ts), replayed as
 * `pollUntil` runs it.
 */
import { MAX_WAIT_SECONDS, dueOffsets } from '../../lib/tasks/wait-policy.ts';
import type { FittedModel } from './latency-model.ts';
import { type LogNormal, mulberry32, quantile, sampleLogNormal } from './statistics.ts';

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
