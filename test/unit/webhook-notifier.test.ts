import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { MemoryOpenTaskSlots } from '../support/memory-user-limits.ts';
import { catalog } from '../support/catalog.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { MemoryTaskStore, RecordingNotices } from '../support/memory-task-store.ts';
import { messageBodyFor, pendingTask } from '../support/task-fixtures.ts';
import { TaskEndings } from '../../lib/tasks/task-endings.ts';
import { TaskSweeper } from '../../lib/tasks/task-sweeper.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { type Task, type WebhookDelivery, toTaskView, webhookIdOf } from '../../lib/tasks/task.ts';
import type { SendResult, WebhookRequest, WebhookSender } from '../../lib/webhooks/http-sender.ts';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../../lib/webhooks/signing.ts';
import { RefreshingWebhookSecrets } from '../../lib/webhooks/webhook-secrets.ts';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, RESEND_AFTER_SECONDS, notifyAtAfterEnd } from '../../lib/webhooks/delivery-schedule.ts';
import { WebhookNotifier } from '../../lib/webhooks/webhook-notifier.ts';
import { RecordingQueue } from '../support/memory-task-store.ts';
import { createTestTasks } from '../support/app-harness.ts';

const CALLBACK = 'https://hooks.example.com/doozer';

/** A sender that answers from a script (the last answer repeats) and keeps every request. */
class ScriptedSender implements WebhookSender {
  readonly requests: WebhookRequest[] = [];
  constructor(private readonly answers: SendResult[]) {}
  async send(request: WebhookRequest): Promise<SendResult> {
    this.requests.push(request);
    return this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
  }
}

const status = (code: number): SendResult => ({ kind: 'response', status: code });
const secretsOf = (secrets: Record<string, string>) => new RefreshingWebhookSecrets({ initial: new Map(Object.entries(secrets)) });

function setup(answers: SendResult[], { secrets = { alice: DEVELOPMENT_WEBHOOK_SECRET } as Record<string, string> } = {}) {
  const clock = new FakeClock();
  // Now: a receiver (the package's verify) refuses a timestamp more than 5 minutes off its clock.
  clock.ms = Date.now();
  const store = new MemoryTaskStore();
  const notices = new RecordingNotices();
  const sender = new ScriptedSender(answers);
  const notifier = new WebhookNotifier({ store, queue: notices, failed: notices, sender, secrets: secretsOf(secrets), clock });
  return { clock, store, notices, sender, notifier };
}

/** A task with a callbackUrl that has just ended SUCCESS, as a worker's end write leaves it. */
async function endedTask(store: MemoryTaskStore, clock: FakeClock, overrides: Partial<Task> = {}): Promise<Task> {
  const created = new Date(clock.now()).toISOString();
  const task = pendingTask({ callbackUrl: CALLBACK, createdAt: created, updatedAt: created, expiresAt: clock.now() / 1000 + 3600, ...overrides });
  await store.create(task);
  const at = new Date(clock.now()).toISOString();
  return (await store.transition(task.id, { from: ['PENDING'], to: 'SUCCESS', at, result: 5, notifyAt: notifyAtAfterEnd(clock.now()) }))!;
}

describe('WebhookNotifier', () => {
  it('POSTs the ended task, signed so that the standardwebhooks package verifies it, and records it delivered', async () => {
    const { clock, store, sender, notifier } = setup([status(204)]);
    const task = await endedTask(store, clock);
    expect(await notifier.deliver(task.id)).toBe('delivered');

    expect(sender.requests).toHaveLength(1);
    const [request] = sender.requests as [WebhookRequest];
    expect(request.url).toBe(CALLBACK);
    const verified = new Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(request.body, request.headers) as Record<string, unknown>;
    expect(verified).toMatchObject({ id: task.id, state: 'SUCCESS', result: 5, callbackUrl: CALLBACK });
    // The delivery's own bookkeeping is not part of what is delivered.
    expect(verified).not.toHaveProperty('webhook');
    expect(request.headers['webhook-id']).toBe(webhookIdOf(task.id));
    expect(request.headers['webhook-timestamp']).toBe(String(Math.floor(clock.now() / 1000)));

    const recorded = store.tasks.get(task.id)!;
    expect(toTaskView(recorded).webhook).toEqual({
      id: webhookIdOf(task.id),
      state: 'delivered',
      attempts: 1,
      lastStatus: 204,
      lastAttemptAt: new Date(clock.now()).toISOString(),
    });
    // Done: out of the webhook index, so the sweeper never sends it again.
    expect(store.deliveries.has(task.id)).toBe(false);
  });

  it('tries a 500 again on the schedule, with the same webhook-id, until a 200: three attempts', async () => {
    const { clock, store, sender, notices, notifier } = setup([status(500), status(500), status(200)]);
    const task = await endedTask(store, clock);

    expect(await notifier.deliver(task.id)).toBe('retrying');
    // The notifier sends itself the next attempt, delayed by the schedule's first wait.
    expect(notices.sent).toEqual([{ taskId: task.id, delaySeconds: DEFAULT_RETRY_SECONDS_0 }]);
    expect(toTaskView(store.tasks.get(task.id)!).webhook).toMatchObject({
      state: 'pending',
      attempts: 1,
      lastStatus: 500,
      nextAttemptAt: new Date(clock.now() + DEFAULT_RETRY_SECONDS_0 * 1000).toISOString(),
    });

    // A duplicate message before the attempt is due changes nothing.
    expect(await notifier.deliver(task.id)).toBe('skipped');
    expect(sender.requests).toHaveLength(1);

    clock.ms += DEFAULT_RETRY_SECONDS_0 * 1000;
    expect(await notifier.deliver(task.id)).toBe('retrying');
    expect(notices.sent.at(-1)).toEqual({ taskId: task.id, delaySeconds: DEFAULT_RETRY_SCHEDULE_SECONDS[1] });
    clock.ms += DEFAULT_RETRY_SCHEDULE_SECONDS[1]! * 1000;
    expect(await notifier.deliver(task.id)).toBe('delivered');

    expect(sender.requests.map((request) => request.headers['webhook-id'])).toEqual(Array(3).fill(webhookIdOf(task.id)));
    expect(toTaskView(store.tasks.get(task.id)!).webhook).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200 });
  });

  it('tries 429s, timeouts and failed connections again, and gives up after the schedule onto the dead-letter queue', async () => {
    const schedule = [1, 2];
    const clock = new FakeClock();
    const store = new MemoryTaskStore();
    const notices = new RecordingNotices();
    const sender = new ScriptedSender([status(429), { kind: 'timeout' }, { kind: 'network', message: 'connect ECONNREFUSED' }]);
    const notifier = new WebhookNotifier({ store, queue: notices, failed: notices, sender, secrets: secretsOf({ alice: DEVELOPMENT_WEBHOOK_SECRET }), retrySchedule: schedule, clock });
    const task = await endedTask(store, clock);

    expect(await notifier.deliver(task.id)).toBe('retrying');
    clock.ms += 1_000;
    expect(await notifier.deliver(task.id)).toBe('retrying');
    clock.ms += 2_000;
    expect(await notifier.deliver(task.id)).toBe('failed');

    expect(sender.requests).toHaveLength(3);
    expect(toTaskView(store.tasks.get(task.id)!).webhook).toMatchObject({ state: 'failed', attempts: 3, lastError: 'network: connect ECONNREFUSED' });
    expect(notices.failedDeliveries).toEqual([{ taskId: task.id, why: '3 attempts; last: network: connect ECONNREFUSED' }]);
    expect(store.deliveries.has(task.id)).toBe(false);
    // Ended: another message makes no attempt.
    expect(await notifier.deliver(task.id)).toBe('skipped');
  });

  it.each([
    ['a 404', status(404), { lastStatus: 404 }],
    ['a redirect', status(302), { lastStatus: 302 }],
    ['an address the policy refuses', { kind: 'refused', message: 'callbackUrl points at a private address (10.0.0.5)' } as const, { lastError: 'refused: callbackUrl points at a private address (10.0.0.5)' }],
  ])('fails at once on %s: no retry would change it, and it is the receiver\'s to fix, not an alarm', async (_what, answer, last) => {
    const { clock, store, sender, notices, notifier } = setup([answer]);
    const task = await endedTask(store, clock);
    expect(await notifier.deliver(task.id)).toBe('failed');
    expect(sender.requests).toHaveLength(1);
    expect(toTaskView(store.tasks.get(task.id)!).webhook).toMatchObject({ state: 'failed', attempts: 1, ...last });
    expect(notices.sent).toEqual([]);
    expect(notices.failedDeliveries).toEqual([]);
  });

  it('retries an owner without a webhook secret, whose secret a later reading of the users brings', async () => {
    const clock = new FakeClock();
    clock.ms = Date.now();
    const store = new MemoryTaskStore();
    const notices = new RecordingNotices();
    const sender = new ScriptedSender([status(204)]);
    let users = new Map<string, string>();
    const secrets = new RefreshingWebhookSecrets({ initial: users, reload: async () => users, missReloadMs: 1_000, clock });
    const notifier = new WebhookNotifier({ store, queue: notices, failed: notices, sender, secrets, clock });
    const task = await endedTask(store, clock);

    expect(await notifier.deliver(task.id)).toBe('retrying');
    expect(sender.requests).toEqual([]);
    expect(store.tasks.get(task.id)!.webhook).toMatchObject({ state: 'pending', lastError: 'no webhook secret is configured for the task owner' });

    users = new Map([['alice', DEVELOPMENT_WEBHOOK_SECRET]]);
    clock.ms += DEFAULT_RETRY_SECONDS_0 * 1000;
    expect(await notifier.deliver(task.id)).toBe('delivered');
    expect(sender.requests).toHaveLength(1);
  });

  it('ends a delivery whose notifiers keep dying before they record an attempt, onto the dead-letter queue', async () => {
    const clock = new FakeClock();
    const store = new MemoryTaskStore();
    const notices = new RecordingNotices();
    const sender = new ScriptedSender([status(200)]);
    const schedule = [1, 1];
    const notifier = new WebhookNotifier({ store, queue: notices, failed: notices, sender, secrets: secretsOf({ alice: DEVELOPMENT_WEBHOOK_SECRET }), retrySchedule: schedule, clock });
    const task = await endedTask(store, clock);
    // Three attempts taken up (the first and both retries), none recorded: each notifier died.
    let previous: WebhookDelivery | undefined;
    for (let attempts = 1; attempts <= schedule.length + 1; attempts += 1) {
      const next = { state: 'pending' as const, attempts, leaseUntil: new Date(clock.now() + 30_000).toISOString() };
      await store.claimAttempt(task.id, { previous, next, notifyAt: new Date(clock.now()).toISOString(), at: new Date(clock.now()).toISOString() });
      previous = next;
      clock.ms += 31_000;
    }
    expect(await notifier.deliver(task.id)).toBe('failed');
    expect(sender.requests).toEqual([]);
    expect(notices.failedDeliveries).toHaveLength(1);
    expect(store.tasks.get(task.id)!.webhook).toMatchObject({ state: 'failed', attempts: 3 });
    expect(store.deliveries.has(task.id)).toBe(false);
  });

  it('keeps a delivery whose retries are spent pending when it cannot be put on the dead-letter queue, so it ends there later', async () => {
    const { clock, store, notices, notifier } = setup([status(503)]);
    const task = await endedTask(store, clock);
    for (const wait of [0, ...DEFAULT_RETRY_SCHEDULE_SECONDS.slice(0, -1)]) {
      clock.ms += wait * 1000;
      expect(await notifier.deliver(task.id)).toBe('retrying');
    }
    clock.ms += DEFAULT_RETRY_SCHEDULE_SECONDS.at(-1)! * 1000;
    const put = notices.put.bind(notices);
    notices.put = async () => {
      throw new Error('simulated dead-letter queue outage');
    };
    await expect(notifier.deliver(task.id)).rejects.toThrow('simulated');
    expect(store.tasks.get(task.id)!.webhook).toMatchObject({ state: 'pending' });
    notices.put = put;
    clock.ms += 31_000;
    expect(await notifier.deliver(task.id)).toBe('failed');
    expect(notices.failedDeliveries).toHaveLength(1);
  });

  it('keeps a task whose retries would outlive it until its last attempt could be made', async () => {
    const { clock, store, notifier } = setup([status(503)]);
    // It ends a minute before it expires: the retries take about 27 hours.
    const task = await endedTask(store, clock, { expiresAt: Math.floor(clock.now() / 1000) + 60 });
    await notifier.deliver(task.id);
    const span = DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((sum, seconds) => sum + seconds, 0);
    expect(store.tasks.get(task.id)!.expiresAt).toBeGreaterThan(clock.now() / 1000 + span);
  });

  it('makes one attempt when two messages for one delivery arrive at once', async () => {
    const { clock, store, sender, notifier } = setup([status(200)]);
    const task = await endedTask(store, clock);
    const outcomes = await Promise.all([notifier.deliver(task.id), notifier.deliver(task.id), notifier.deliver(task.id)]);
    expect(outcomes.sort()).toEqual(['delivered', 'skipped', 'skipped']);
    expect(sender.requests).toHaveLength(1);
  });

  it('takes up again an attempt whose notifier died before recording it, once its lease has run out', async () => {
    const { clock, store, sender, notifier } = setup([status(200)]);
    const task = await endedTask(store, clock);
    // A notifier took the attempt up and died: leased, never recorded.
    const leased = { state: 'pending' as const, attempts: 1, leaseUntil: new Date(clock.now() + 30_000).toISOString() };
    await store.claimAttempt(task.id, { previous: undefined, next: leased, notifyAt: new Date(clock.now() + 330_000).toISOString(), at: new Date(clock.now()).toISOString() });

    expect(await notifier.deliver(task.id)).toBe('skipped');
    clock.ms += 31_000;
    expect(await notifier.deliver(task.id)).toBe('delivered');
    expect(sender.requests).toHaveLength(1);
    expect(store.tasks.get(task.id)!.webhook).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('sends nothing for a task that has not ended, has no callbackUrl, or does not exist', async () => {
    const { clock, store, sender, notifier } = setup([status(200)]);
    const open = pendingTask({ callbackUrl: CALLBACK });
    await store.create(open);
    const plain = await endedTask(store, clock, { callbackUrl: undefined });
    expect(await notifier.deliver(open.id)).toBe('skipped');
    expect(await notifier.deliver(plain.id)).toBe('skipped');
    expect(await notifier.deliver('task_00000000-0000-4000-8000-000000000000')).toBe('skipped');
    expect(sender.requests).toEqual([]);
  });

  it('leaves a retry beyond the queue\'s delay to the sweeper, which sends it delayed to its time', async () => {
    const clock = new FakeClock();
    const store = new MemoryTaskStore();
    const notices = new RecordingNotices();
    const sender = new ScriptedSender([status(503), status(200)]);
    const notifier = new WebhookNotifier({ store, queue: notices, failed: notices, sender, secrets: secretsOf({ alice: DEVELOPMENT_WEBHOOK_SECRET }), retrySchedule: [3600], clock });
    const sweeper = new TaskSweeper({ store, queue: new RecordingQueue(), staleAfterSeconds: 300, webhooks: { deliveries: store, notices }, clock });
    const task = await endedTask(store, clock);

    expect(await notifier.deliver(task.id)).toBe('retrying');
    expect(notices.sent).toEqual([]);
    // Not due within the sweeper's two minutes ahead yet.
    expect(await sweeper.releaseDeliveries()).toBe(0);
    clock.ms += 3600_000 - 100_000;
    expect(await sweeper.releaseDeliveries()).toBe(1);
    expect(notices.sent).toEqual([{ taskId: task.id, delaySeconds: 100 }]);
    // A second run of the sweeper does not send it again.
    expect(await sweeper.releaseDeliveries()).toBe(0);
    clock.ms += 100_000;
    expect(await notifier.deliver(task.id)).toBe('delivered');
  });
});

const DEFAULT_RETRY_SECONDS_0 = DEFAULT_RETRY_SCHEDULE_SECONDS[0]!;

describe('the end of a task with a callbackUrl', () => {
  it('is handed to the notifier by the worker after its end is written, and put in the webhook index by that write', async () => {
    const clock = new FakeClock();
    const store = new MemoryTaskStore();
    const notices = new RecordingNotices();
    const slots = new MemoryOpenTaskSlots();
    const worker = new TaskWorker({ catalog, store, clock, endings: new TaskEndings({ slots, notices }) });
    const task = pendingTask({ callbackUrl: CALLBACK, expiresAt: clock.now() / 1000 + 3600 });
    await store.create(task);
    await slots.reserve('alice', [{ id: task.id, expiresAt: task.expiresAt }], 1, clock.now());

    expect(await worker.process(messageBodyFor(task))).toBe('SUCCESS');
    expect(notices.sent).toEqual([{ taskId: task.id }]);
    expect(store.deliveries.get(task.id)).toEqual({ notifyAt: new Date(clock.now() + RESEND_AFTER_SECONDS * 1000).toISOString() });
    // The owner's slot is free again.
    expect(await slots.reserve('alice', [{ id: 'task_other', expiresAt: task.expiresAt }], 1, clock.now())).toEqual({ admitted: true });
  });

  it('is found by the sweeper when the notice after the end write was lost', async () => {
    const clock = new FakeClock();
    const store = new MemoryTaskStore();
    const notices = new RecordingNotices();
    notices.failing = true;
    const worker = new TaskWorker({ catalog, store, clock, endings: new TaskEndings({ notices }) });
    const sweeper = new TaskSweeper({ store, queue: new RecordingQueue(), staleAfterSeconds: 300, webhooks: { deliveries: store, notices }, clock });
    const task = pendingTask({ callbackUrl: CALLBACK, expiresAt: clock.now() / 1000 + 3600 });
    await store.create(task);
    expect(await worker.process(messageBodyFor(task))).toBe('SUCCESS');
    notices.failing = false;

    expect(await sweeper.releaseDeliveries()).toBe(0);
    clock.ms += (RESEND_AFTER_SECONDS - 60) * 1000;
    expect(await sweeper.releaseDeliveries()).toBe(1);
    expect(notices.sent).toEqual([{ taskId: task.id, delaySeconds: 60 }]);
  });

  it('is handed to the notifier on cancel, and a task that was never accepted is not', async () => {
    const notices = new RecordingNotices();
    const { tasks: service, store, queue } = createTestTasks({ worker: false, taskTtlSeconds: 3600, notices });
    const later = await service.submit('alice', { name: 'add', args: [1, 2] }, 0, { delaySeconds: 60, callbackUrl: CALLBACK });
    expect(later.callbackUrl).toBe(CALLBACK);
    await service.cancel('alice', later.id);
    expect(notices.sent).toEqual([{ taskId: later.id }]);

    queue.failing = true;
    await expect(service.submit('alice', { name: 'add', args: [1, 2] }, 0, { callbackUrl: CALLBACK })).rejects.toMatchObject({ code: 'unavailable' });
    expect(notices.sent).toHaveLength(1);
    expect(await store.listDueDeliveries('9999', 10)).toEqual([expect.objectContaining({ id: later.id })]);
  });
});
