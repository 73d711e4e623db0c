/**
 * Completion webhooks' bookkeeping on the task's own record, against dynalite: the end write puts a
 * task with a callbackUrl in the webhook-deliveries index, attempts are taken up and recorded with
 * conditional writes (one winner however many race), and a delivery that is done leaves the index.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import type { Task, WebhookDelivery } from '../../lib/tasks/task.ts';
import { createTaskTable } from '../../local/provision.ts';
import { useEmulators } from '../support/emulators.ts';
import { pendingTask } from '../support/task-fixtures.ts';

const NOW_MS = Date.parse('2030-03-04T05:06:07.000Z');
const iso = (offsetMs: number) => new Date(NOW_MS + offsetMs).toISOString();

describe('DynamoDbTaskStore webhook deliveries against dynalite', () => {
  const emulators = useEmulators();
  let store: DynamoDbTaskStore;

  beforeAll(() => {
    store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
  });

  async function ended(overrides: Partial<Task> = {}, notifyAt = iso(300_000)): Promise<Task> {
    const task = pendingTask({ callbackUrl: 'https://hooks.example.com/x', expiresAt: NOW_MS / 1000 + 3600, ...overrides });
    await store.create(task);
    return (await store.transition(task.id, { from: ['PENDING'], to: 'SUCCESS', at: iso(0), result: 1, notifyAt }))!;
  }

  const leased = (attempts: number): WebhookDelivery => ({ state: 'pending', attempts, lastAttemptAt: iso(0), leaseUntil: iso(30_000) });

  it('lists a task with a callbackUrl once it ended, due at the notifyAt its end wrote, and not a task without one', async () => {
    const withCallback = await ended({}, iso(-1));
    const without = await ended({ callbackUrl: undefined }, iso(-1));
    const due = await store.listDueDeliveries(iso(0), 1000);
    expect(due).toContainEqual({ id: withCallback.id, notifyAt: iso(-1) });
    expect(due.map((delivery) => delivery.id)).not.toContain(without.id);
    // The store's own attributes stay out of the task.
    expect(await store.get(withCallback.id)).not.toHaveProperty('notifyAt');
  });

  it('lets one of 20 racing notifiers take up an attempt', async () => {
    const task = await ended();
    const claims = await Promise.all(
      Array.from({ length: 20 }, () => store.claimAttempt(task.id, { previous: undefined, next: leased(1), notifyAt: iso(330_000), at: iso(0) })),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect((await store.get(task.id))!.webhook).toEqual(leased(1));
  });

  it('refuses a second attempt while the first holds its lease, and takes it once the lease is over', async () => {
    const task = await ended();
    const first = await store.claimAttempt(task.id, { previous: undefined, next: leased(1), notifyAt: iso(330_000), at: iso(0) });
    expect(first?.webhook).toEqual(leased(1));
    const during = { previous: leased(1), next: { ...leased(2), leaseUntil: iso(40_000) }, notifyAt: iso(340_000) };
    expect(await store.claimAttempt(task.id, { ...during, at: iso(10_000) })).toBeUndefined();
    expect(await store.claimAttempt(task.id, { ...during, at: iso(31_000) })).toMatchObject({ webhook: { attempts: 2 } });
  });

  it('keeps a delivery to retry in the index at its new time, and removes a delivered one', async () => {
    const task = await ended();
    await store.claimAttempt(task.id, { previous: undefined, next: leased(1), notifyAt: iso(330_000), at: iso(0) });
    const retry: WebhookDelivery = { state: 'pending', attempts: 1, lastStatus: 500, lastAttemptAt: iso(0), nextAttemptAt: iso(5_000) };
    expect(await store.recordAttempt(task.id, { delivery: retry, notifyAt: iso(305_000) })).toBe(true);
    expect(await store.listDueDeliveries(iso(305_000), 1000)).toContainEqual({ id: task.id, notifyAt: iso(305_000) });

    // A record for an attempt that is no longer the last one taken up is refused.
    expect(await store.recordAttempt(task.id, { delivery: { ...retry, attempts: 7 } })).toBe(false);

    await store.claimAttempt(task.id, { previous: retry, next: leased(2), notifyAt: iso(335_000), at: iso(5_000) });
    const delivered: WebhookDelivery = { state: 'delivered', attempts: 2, lastStatus: 204, lastAttemptAt: iso(5_000) };
    expect(await store.recordAttempt(task.id, { delivery: delivered })).toBe(true);
    expect((await store.listDueDeliveries('9999', 1000)).map((delivery) => delivery.id)).not.toContain(task.id);
    expect((await store.get(task.id))!.webhook).toEqual(delivered);
    // Done: no attempt can be taken up again.
    expect(await store.claimAttempt(task.id, { previous: delivered, next: leased(3), notifyAt: iso(0), at: iso(60_000) })).toBeUndefined();
  });

  it('moves a delivery\'s notifyAt only from the time the sweeper saw', async () => {
    const task = await ended({}, iso(1_000));
    expect(await store.postponeDelivery(task.id, iso(999), iso(301_000))).toBe(false);
    expect(await store.postponeDelivery(task.id, iso(1_000), iso(301_000))).toBe(true);
    expect(await store.postponeDelivery(task.id, iso(1_000), iso(601_000))).toBe(false);
  });

  it('takes up no attempt for a task that has not ended', async () => {
    const task = pendingTask({ callbackUrl: 'https://hooks.example.com/x', expiresAt: NOW_MS / 1000 + 3600 });
    await store.create(task);
    expect(await store.claimAttempt(task.id, { previous: undefined, next: leased(1), notifyAt: iso(0), at: iso(0) })).toBeUndefined();
  });
});
