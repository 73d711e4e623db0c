import { setTimeout as sleep } from 'node:timers/promises';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../lib/webhooks/signing.ts';
import { startWebhookReceiver } from '../local/webhook-receiver.ts';
import { type CallCounter, perTask } from './call-counter.ts';
import { type Call, type Outcome, runClosedLoop, summarize } from './load.ts';
import {
  type DeliveryFigures,
  type Receipt,
  type WebhookResult,
  type WebhookRun,
  type WebhookSideName,
  round3,
  summarizeWebhooks,
  tallyDeliveries,
  unexpectedDeliveries,
} from './webhooks-figures.ts';

/**
 * Completion webhooks against the sync path: does asking for a webhook slow down the answer? The
 * worker writes a task's end, then sends one message to the notifier's queue; the notifier (a
 * Lambda of its own, fed by that queue) makes the POST. So a sync task with a `callbackUrl` should
 * be answered as fast as one without; the issue's acceptance is that ratio, in one run.
 *
 * Each round runs `tasks` sync add tasks at c=1 without a callbackUrl and as many with one (to a
 * receiver in this process, on loopback), alternating which side goes first; the report takes the
 * medians of the rounds' p50 and p99 and divides. After each side with callbacks, the phase waits
 * (at most DELIVERY_WAIT_MS) until each of its tasks was delivered, so the notifier's work never
 * overlaps the next side, and checks every delivery as a receiver would: the Standard Webhooks
 * signature with the local stage's development secret (the bench's user has no secret of its own),
 * one delivery per task (at least once allows more: they are counted, not refused), and how long
 * after the 200 it arrived.
 */

/**
 * The paced pass: before each task the stack must have made no call for this long (the previous
 * task's worker, and its delivery, done), at most PACE_TIMEOUT_MS.
 */
const PACE_QUIET_MS = 20;
const PACE_TIMEOUT_MS = 2_000;

/** How long after a side's last answer its deliveries may still arrive. */
export const DELIVERY_WAIT_MS = 30_000;
/** Pause between two looks at the deliveries received while waiting for the rest. */
const DELIVERY_POLL_MS = 25;

export interface WebhookOptions {
  readonly call: Call;
  readonly counter: CallCounter;
  /** Sync tasks per side per round. */
  readonly tasks: number;
  readonly rounds: number;
  /** Tasks of each side run first (their deliveries awaited) to warm the notifier up; not reported. */
  readonly warmup: number;
  /** Sync tasks per side per round of the paced pass (0: none). */
  readonly pacedTasks?: number;
  /** Time bound of each side's submissions. */
  readonly maxMs: number;
  /** Bound of the wait for a side's deliveries (DELIVERY_WAIT_MS). */
  readonly deliveryWaitMs?: number;
  readonly log: (line: string) => void;
}

/** Every delivery received, by task id, and the ids the phase submitted with a callbackUrl. */
class DeliveryLog {
  readonly receipts = new Map<string, Receipt[]>();
  /** Deliveries without a task id in their body: none of ours. */
  unidentified = 0;

  receive(taskId: string | undefined, receipt: Receipt): void {
    if (taskId === undefined) {
      this.unidentified += 1;
      return;
    }
    const list = this.receipts.get(taskId);
    if (list) list.push(receipt);
    else this.receipts.set(taskId, [receipt]);
  }
}

/**
 * Starts the receiver, runs a warm-up of each side, then `rounds` rounds of both sides
 * (without first in even rounds), and stops the receiver.
 */
export async function measureWebhooks(options: WebhookOptions): Promise<WebhookResult> {
  const { log, tasks, rounds } = options;
  const deliveryWaitMs = options.deliveryWaitMs ?? DELIVERY_WAIT_MS;
  const deliveries = new DeliveryLog();
  const receiver = await startWebhookReceiver({
    port: 0,
    secret: DEVELOPMENT_WEBHOOK_SECRET,
    // Its line per delivery would be thousands of lines; each delivery is tallied instead.
    log: () => {},
    onDelivery: (delivery) => deliveries.receive(delivery.taskId, { at: performance.now(), signatureValid: delivery.signatureError === undefined }),
  });
  const withCallbacks = new Set<string>();
  try {
    const side = (name: WebhookSideName, round: number, count: number, paced = false) =>
      runSide({ side: name, round, tasks: count, paced, callbackUrl: receiver.url, deliveries, withCallbacks, deliveryWaitMs, options });
    if (options.warmup > 0) {
      for (const name of ['without', 'with'] as const) {
        log(`webhooks warm-up: ${options.warmup} sync tasks ${name} a callbackUrl`);
        await side(name, -1, options.warmup);
      }
    }
    const runs: WebhookRun[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const order: WebhookSideName[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
      for (const name of order) {
        log(`webhooks round ${round + 1}/${rounds}: ${tasks} sync tasks at c=1 ${name} a callbackUrl${name === 'with' ? ` (${receiver.url}), then their deliveries` : ''}`);
        const run = await side(name, round, tasks);
        const delivered = run.delivery
          ? `; delivered ${run.delivery.delivered}/${run.delivery.expected} (${run.delivery.invalidSignatures} invalid, ${run.delivery.duplicates} duplicates), lag p50 ${run.delivery.lagMs.p50} ms`
          : '';
        log(`webhooks round ${round + 1}/${rounds} ${name}: p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, ${run.errors} errors${delivered}`);
        runs.push(run);
      }
    }
    const pacedTasks = options.pacedTasks ?? 0;
    for (let round = 0; round < (pacedTasks > 0 ? rounds : 0); round += 1) {
      const order: WebhookSideName[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
      for (const name of order) {
        log(`webhooks paced round ${round + 1}/${rounds}: ${pacedTasks} sync tasks at c=1 ${name} a callbackUrl, each once the stack is quiet`);
        const run = await side(name, round, pacedTasks, true);
        log(`webhooks paced round ${round + 1}/${rounds} ${name}: p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, ${run.errors} errors`);
        runs.push(run);
      }
    }
    const unexpected = unexpectedDeliveries(deliveries.receipts, withCallbacks) + deliveries.unidentified;
    return summarizeWebhooks(runs, { tasksPerSide: tasks, rounds, deliveryWaitMs, unexpected });
  } finally {
    await receiver.close();
  }
}

interface SideInput {
  readonly side: WebhookSideName;
  readonly round: number;
  readonly paced: boolean;
  readonly tasks: number;
  readonly callbackUrl: string;
  readonly deliveries: DeliveryLog;
  /** Every task id sent with a callbackUrl so far (warm-up included): a delivery of any other is unexpected. */
  readonly withCallbacks: Set<string>;
  readonly deliveryWaitMs: number;
  readonly options: WebhookOptions;
}

/** Sends one side's sync tasks at c=1; for the side with callbacks, waits for their deliveries. */
async function runSide(input: SideInput): Promise<WebhookRun> {
  const { side, round, tasks, callbackUrl, deliveries, options } = input;
  const { call, counter } = options;
  /** Task id → performance.now() of its 200 SUCCESS answer. */
  const answered = new Map<string, number>();
  const operation = async (index: number): Promise<Outcome> => {
    const body = { name: 'add', args: [index, 1], ...(side === 'with' && { callbackUrl }) };
    const answer = await call('POST', '/tasks', body);
    const answeredAt = performance.now();
    const task = parseTask(answer.body);
    // A task sent with a callbackUrl is delivered whatever its answer (a 202 too): not unexpected.
    if (side === 'with' && task?.id !== undefined) input.withCallbacks.add(task.id);
    if (answer.status !== 200 || task === undefined) return { ok: false, error: `POST /tasks answered ${answer.status}: ${answer.body.slice(0, 120)}` };
    if (task.state !== 'SUCCESS' || task.result !== index + 1) {
      return { ok: false, error: `POST /tasks answered ${task.state} with ${JSON.stringify(task.result)}, expected SUCCESS with ${index + 1}` };
    }
    if (task.id !== undefined) answered.set(task.id, answeredAt);
    return { ok: true };
  };

  await counter.settle();
  const before = counter.snapshot();
  const pause = input.paced ? () => counter.settle({ quietMs: PACE_QUIET_MS, timeoutMs: PACE_TIMEOUT_MS }) : undefined;
  const loop = await runClosedLoop({ count: tasks, concurrency: 1, maxMs: options.maxMs, operation, pause });
  const lastAnswer = performance.now();
  let delivery: DeliveryFigures | undefined;
  if (side === 'with') {
    const deadline = lastAnswer + input.deliveryWaitMs;
    const allIn = () => [...answered.keys()].every((id) => deliveries.receipts.has(id));
    while (!allIn() && performance.now() < deadline) await sleep(DELIVERY_POLL_MS);
    const lastReceipt = Math.max(lastAnswer, ...[...answered.keys()].map((id) => deliveries.receipts.get(id)?.[0]?.at ?? lastAnswer));
    const tally = tallyDeliveries(answered, deliveries.receipts);
    delivery = { ...tally, waitSeconds: round3((lastReceipt - lastAnswer) / 1000), truncated: tally.missing > 0 && performance.now() >= deadline };
  }
  // The notifier's writes after each POST (delivered, the message deleted) belong to this side.
  await counter.settle();
  return {
    side,
    round,
    paced: input.paced,
    tasks,
    completed: loop.latenciesMs.length,
    errors: loop.errors,
    errorSamples: loop.errorSamples,
    truncated: loop.truncated,
    seconds: round3(loop.elapsedMs / 1000),
    latency: summarize(loop.latenciesMs),
    ...(delivery && { delivery }),
    calls: perTask(before, counter.snapshot(), loop.latenciesMs.length),
  };
}

function parseTask(body: string): { id?: string; state?: string; result?: unknown } | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as { id?: string; state?: string; result?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}
