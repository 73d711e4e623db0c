import { describe, expect, it } from 'vitest';
import {
  ABANDONED_CLAIM_MS,
  IDEMPOTENCY_WINDOW_SECONDS,
  claimMatches,
  idempotencyClaimId,
} from '../../lib/tasks/idempotency.ts';
import type { Task, TaskView } from '../../lib/tasks/task.ts';
import { createTestApp } from '../support/app-harness.ts';
import { MemoryTaskStore } from '../support/memory-task-store.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { IdempotencyKeySchema } from '../../lib/http/request-params.ts';
import { taskInputDigest } from '../../lib/tasks/task.ts';
import { catalog } from '../support/catalog.ts';

const TASK_TTL_SECONDS = 7 * 86_400;
const TASK_ID = /^task_[0-9a-f-]{36}$/;

/** A task store whose `create` can be held, to stand between a request's claim and its task. */
class GatedTaskStore extends MemoryTaskStore {
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #entered: (() => void) | undefined;
  /** Resolves once a `create` is being held. */
  entered: Promise<void> = Promise.resolve();

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
    this.entered = new Promise((resolve) => (this.#entered = resolve));
  }

  open(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  override async create(task: Task): Promise<void> {
    if (this.#gate) {
      this.#entered?.();
      await this.#gate;
    }
    return super.create(task);
  }
}

/**
 * The app over in-memory adapters (test/support/app-harness.ts). With `worker: true` every queued
 * message is processed at once (a task finishes during the wait); without it nothing consumes the
 * queue (the task stays PENDING).
 */
function harness({ worker = true, taskTtlSeconds = TASK_TTL_SECONDS } = {}) {
  const clock = new FakeClock();
  // The worker's pauses while a record is late are the fake clock's too: the store opens in them.
  const h = createTestApp({ store: new GatedTaskStore(), clock, worker, workerOptions: { sleep: clock.sleep }, taskTtlSeconds });
  /** POSTs a JSON task request as `user` (alice by default) with Idempotency-Key `key` (none for null). */
  const submit = (body: unknown, { key = 'key-1' as string | null, query = '', user = 'alice' } = {}) =>
    h.post(`/tasks${query}`, body, { user, headers: key === null ? {} : { 'idempotency-key': key } });
  return { store: h.store, queue: h.queue, claims: h.idempotency, worker: h.worker, clock, submit };
}

async function taskOf(response: Response): Promise<TaskView> {
  return (await response.json()) as TaskView;
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

const ADD = { name: 'add', args: [1, 2, 3] };

describe('POST /tasks with an Idempotency-Key', () => {
  it('answers the same key and body twice with the same task, created and queued once', async () => {
    const h = harness();
    const first = await h.submit(ADD);
    const second = await h.submit(ADD);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const [a, b] = [await taskOf(first), await taskOf(second)];
    expect(a.id).toMatch(TASK_ID);
    expect(b).toEqual(a);
    expect(a).toMatchObject({ state: 'SUCCESS', result: 6 });
    expect(h.queue.sent.map((message) => message.taskId)).toEqual([a.id]);
    expect(h.store.tasks.size).toBe(1);
  });

  it('treats the same integers written differently as the same request', async () => {
    const h = harness();
    const first = await taskOf(await h.submit({ name: 'add', args: [1, '2', -3] }));
    const second = await h.submit({ name: 'add', args: ['001', 2, '-03'] });

    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await taskOf(second)).id).toBe(first.id);
    expect(h.queue.sent).toHaveLength(1);
  });

  it.each([
    ['other args', { name: 'add', args: [1, 2, 4] }],
    ['another task', { name: 'mul', args: [1, 2, 3] }],
    ['the args in another order', { name: 'add', args: [3, 2, 1] }],
  ])('answers 422 idempotency_key_reused for the same key with %s, and creates nothing', async (_label, body) => {
    const h = harness();
    const first = await taskOf(await h.submit(ADD));

    const response = await h.submit(body);

    expect(response.status).toBe(422);
    expect(response.headers.get('idempotent-replayed')).toBeNull();
    expect((await errorOf(response)).code).toBe('idempotency_key_reused');
    expect([...h.store.tasks.keys()]).toEqual([first.id]);
    expect(h.queue.sent).toHaveLength(1);
  });

  it('keeps keys apart per user: two users sending the same key get two tasks', async () => {
    const h = harness();
    const alice = await h.submit(ADD, { user: 'alice' });
    const bob = await h.submit(ADD, { user: 'bob' });

    expect(bob.status).toBe(200);
    expect(bob.headers.get('idempotent-replayed')).toBeNull();
    const [a, b] = [await taskOf(alice), await taskOf(bob)];
    expect(b.id).not.toBe(a.id);
    expect(h.store.tasks.get(a.id)?.owner).toBe('alice');
    expect(h.store.tasks.get(b.id)?.owner).toBe('bob');
    expect(h.queue.sent).toHaveLength(2);
    // Bob's replay is his own task, not Alice's.
    expect((await taskOf(await h.submit(ADD, { user: 'bob' }))).id).toBe(b.id);
  });

  it('keeps different keys of one user apart, and requests without a key as before', async () => {
    const h = harness();
    const ids = new Set<string>();
    for (const key of ['key-1', 'key-2', null, null]) ids.add((await taskOf(await h.submit(ADD, { key }))).id);
    expect(ids.size).toBe(4);
    expect(h.queue.sent).toHaveLength(4);
    expect(h.claims.claims.size).toBe(2);
  });

  it('replays a task that is still PENDING with 202, Location and Retry-After', async () => {
    const h = harness({ worker: false });
    const first = await h.submit(ADD, { query: '?wait=0' });
    const second = await h.submit(ADD, { query: '?wait=0' });

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const view = await taskOf(second);
    expect(view).toEqual(await taskOf(first));
    expect(view.state).toBe('PENDING');
    expect(second.headers.get('location')).toBe(`/tasks/${view.id}`);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(h.queue.sent).toHaveLength(1);
  });

  it('waits on a replay like on a fresh submission: 200 once the task ends within the wait', async () => {
    const h = harness({ worker: false });
    const first = await taskOf(await h.submit(ADD, { query: '?wait=0' }));
    h.clock.onSleep = () => h.worker.process(JSON.stringify(h.queue.sent[0]));

    const replay = await h.submit(ADD, { query: '?wait=2' });

    expect(replay.status).toBe(200);
    expect(await taskOf(replay)).toMatchObject({ id: first.id, state: 'SUCCESS', result: 6 });
    expect(h.queue.sent).toHaveLength(1);
  });

  it('answers a duplicate that arrives while the first request is still waiting with the same task', async () => {
    const h = harness({ worker: false });
    let firstWaits!: () => void;
    const waiting = new Promise<void>((resolve) => (firstWaits = resolve));
    let resume!: () => void;
    const held = new Promise<void>((resolve) => (resume = resolve));
    // The first request's wait stops at its first sleep until the duplicate has been answered.
    h.clock.onSleep = () => {
      firstWaits();
      return held;
    };

    const first = h.submit(ADD, { query: '?wait=2' });
    await waiting;
    const duplicate = await h.submit(ADD, { query: '?wait=0' });
    const taskId = h.queue.sent[0]?.taskId;

    expect(duplicate.status).toBe(202);
    expect(duplicate.headers.get('idempotent-replayed')).toBe('true');
    expect(await taskOf(duplicate)).toMatchObject({ id: taskId, state: 'PENDING' });

    await h.worker.process(JSON.stringify(h.queue.sent[0]));
    h.clock.onSleep = undefined;
    resume();
    const answered = await first;
    expect(answered.status).toBe(200);
    expect(answered.headers.get('idempotent-replayed')).toBeNull();
    expect(await taskOf(answered)).toMatchObject({ id: taskId, state: 'SUCCESS', result: 6 });
    expect(h.queue.sent).toHaveLength(1);
    expect(h.store.tasks.size).toBe(1);
  });

  it('polls for the task while the first request is between its claim and its task', async () => {
    const h = harness();
    h.store.hold();
    const first = h.submit(ADD);
    await h.store.entered;
    // The duplicate finds the claim but no task; at its first sleep the first request goes on.
    h.clock.onSleep = async () => h.store.open();

    const duplicate = await h.submit(ADD, { query: '?wait=1' });
    const answered = await first;

    expect(duplicate.status).toBe(200);
    expect(duplicate.headers.get('idempotent-replayed')).toBe('true');
    const view = await taskOf(duplicate);
    expect(view).toEqual(await taskOf(answered));
    expect(view).toMatchObject({ state: 'SUCCESS', result: 6 });
    expect(h.queue.sent).toHaveLength(1);
  });

  it('answers 409 request_in_progress with Retry-After when the task still does not exist at the end of the wait', async () => {
    const h = harness();
    h.store.hold();
    const first = h.submit(ADD);
    await h.store.entered;

    const now = await h.submit(ADD, { query: '?wait=0' });
    const later = await h.submit(ADD, { query: '?wait=0.5' });

    for (const response of [now, later]) {
      expect(response.status).toBe(409);
      expect(response.headers.get('retry-after')).toBe('1');
      expect((await errorOf(response)).code).toBe('request_in_progress');
    }
    // Its message is out (recorded and queued at once), its record not yet.
    expect(h.store.tasks.size).toBe(0);

    h.store.open();
    const answered = await taskOf(await first);
    const retry = await h.submit(ADD);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect((await taskOf(retry)).id).toBe(answered.id);
    expect(h.queue.sent).toHaveLength(1);
  });

  it('treats an expired claim as absent: after 24 hours the key creates a new task', async () => {
    const h = harness();
    const first = await taskOf(await h.submit(ADD));

    h.clock.ms += (IDEMPOTENCY_WINDOW_SECONDS - 1) * 1000;
    const stillReplayed = await h.submit(ADD);
    expect(stillReplayed.headers.get('idempotent-replayed')).toBe('true');
    expect((await taskOf(stillReplayed)).id).toBe(first.id);

    h.clock.ms += 1000;
    const fresh = await h.submit(ADD);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    const second = await taskOf(fresh);
    expect(second.id).not.toBe(first.id);
    expect(h.queue.sent.map((message) => message.taskId)).toEqual([first.id, second.id]);
    // Past the window the key is free for another body too.
    h.clock.ms += IDEMPOTENCY_WINDOW_SECONDS * 1000;
    expect((await h.submit({ name: 'mul', args: [6, 7] })).status).toBe(200);
  });

  it('never remembers a key longer than its task lives', async () => {
    const h = harness({ taskTtlSeconds: 3600 });
    const first = await taskOf(await h.submit(ADD));
    h.clock.ms += 3600 * 1000;

    const response = await h.submit(ADD);

    expect(response.headers.get('idempotent-replayed')).toBeNull();
    expect((await taskOf(response)).id).not.toBe(first.id);
  });

  it('releases the key when the task could not be recorded, so a retry with the key creates it', async () => {
    const h = harness();
    h.store.failNext('create');

    const failed = await h.submit(ADD);
    expect(failed.status).toBe(503);
    expect(h.claims.claims.size).toBe(0);

    const retry = await h.submit(ADD);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    // The failed request's message went out beside its failed record; only the retry's task exists.
    expect(h.queue.sent).toHaveLength(2);
    expect([...h.store.tasks.keys()]).toEqual([(await taskOf(retry)).id]);
  });

  it('releases the key when the task could not be queued, so a retry with the key is not stuck on enqueue_failed', async () => {
    const h = harness();
    h.queue.failing = true;

    const failed = await h.submit(ADD);
    expect(failed.status).toBe(503);
    const [unqueued] = [...h.store.tasks.values()];
    expect(unqueued?.error?.code).toBe('enqueue_failed');

    h.queue.failing = false;
    const retry = await h.submit(ADD);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    const view = await taskOf(retry);
    expect(view).toMatchObject({ state: 'SUCCESS', result: 6 });
    expect(view.id).not.toBe(unqueued?.id);
  });

  it('frees a key whose task was never queued even when releasing it failed', async () => {
    const h = harness();
    h.queue.failing = true;
    h.claims.failNext('release');
    expect((await h.submit(ADD)).status).toBe(503);
    const [unqueued] = [...h.store.tasks.values()];
    expect(h.claims.claims.get(idempotencyClaimId('alice', 'key-1'))?.taskId).toBe(unqueued?.id);

    h.queue.failing = false;
    const retry = await h.submit(ADD);

    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    const task = await taskOf(retry);
    expect(task).toMatchObject({ state: 'SUCCESS', result: 6 });
    expect(task.id).not.toBe(unqueued?.id);
    expect(h.claims.claims.get(idempotencyClaimId('alice', 'key-1'))?.taskId).toBe(task.id);
    expect((await taskOf(await h.submit(ADD))).id).toBe(task.id);
  });

  it('lets a retry take over a claim whose request died before writing its task, once it is abandoned', async () => {
    const h = harness();
    // The task write fails and so does the release: a claim is left with no task behind it.
    h.store.failNext('create');
    h.claims.failNext('release');
    expect((await h.submit(ADD)).status).toBe(503);
    expect(h.claims.claims.size).toBe(1);

    const tooEarly = await h.submit(ADD, { query: '?wait=0' });
    expect(tooEarly.status).toBe(409);
    expect((await errorOf(tooEarly)).code).toBe('request_in_progress');

    h.clock.ms += ABANDONED_CLAIM_MS;
    const retry = await h.submit(ADD);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    const task = await taskOf(retry);
    expect(h.claims.claims.get(idempotencyClaimId('alice', 'key-1'))?.taskId).toBe(task.id);
    // The first request's message went out beside its failed record: it names no task that exists.
    expect(h.queue.sent.map((message) => message.taskId).at(-1)).toBe(task.id);
    expect([...h.store.tasks.keys()]).toEqual([task.id]);
  });

  it('answers 503 and records nothing when the key cannot be claimed', async () => {
    const h = harness();
    h.claims.failNext('claim');

    const response = await h.submit(ADD);

    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe('unavailable');
    expect(h.store.tasks.size).toBe(0);
    expect(h.queue.sent).toEqual([]);
  });

  it('checks the body before claiming the key: a rejected body leaves the key unused', async () => {
    const h = harness();
    expect((await h.submit({ name: 'add', args: [1.5] })).status).toBe(400);
    expect(h.claims.claims.size).toBe(0);

    const response = await h.submit(ADD);
    expect(response.status).toBe(200);
    expect(response.headers.get('idempotent-replayed')).toBeNull();
  });

  it.each([
    ['an empty key', ''],
    ['a key of 256 characters', 'k'.repeat(256)],
    ['a non-ASCII key', 'clé'],
    ['a key with a tab', 'a\tb'],
    ['a key with DEL', 'a\x7fb'],
  ])('answers 400 invalid_request naming the header for %s, and records nothing', async (_label, key) => {
    const h = harness();

    const response = await h.submit(ADD, { key });

    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('Idempotency-Key');
    expect(h.claims.claims.size).toBe(0);
    expect(h.store.tasks.size).toBe(0);
    expect(h.queue.sent).toEqual([]);
  });

  it.each([
    ['one character', '!'],
    ['255 characters', 'k'.repeat(255)],
    ['spaces and punctuation inside', 'order 42: {"retry"} ~#'],
    ['a UUID', '6f1c1c4e-4a52-4a39-9a8e-2b7b4b1d9d10'],
  ])('accepts a key of %s', async (_label, key) => {
    const h = harness();
    expect((await h.submit(ADD, { key })).status).toBe(200);
    expect((await h.submit(ADD, { key })).headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('idempotency keys, the pure part', () => {
  it('tells keys of 1 to 255 printable ASCII characters from the rest', () => {
    const isKey = (value: string) => IdempotencyKeySchema.safeParse(value).success;
    expect(isKey(' ')).toBe(true);
    expect(isKey('~'.repeat(255))).toBe(true);
    expect(isKey('')).toBe(false);
    expect(isKey('x'.repeat(256))).toBe(false);
    expect(isKey('line\nbreak')).toBe(false);
    expect(isKey('€')).toBe(false);
  });

  it('scopes claim ids by user without ambiguity, and never makes a task id', () => {
    const id = idempotencyClaimId('alice', 'k');
    expect(id).toMatch(/^idem#[0-9a-f]{64}$/);
    expect(idempotencyClaimId('alice', 'k')).toBe(id);
    expect(idempotencyClaimId('bob', 'k')).not.toBe(id);
    expect(idempotencyClaimId('ab', 'c')).not.toBe(idempotencyClaimId('a', 'bc'));
  });

  it('matches a claim made before tasks were user-defined (integers digested as decimal strings) to the same request', () => {
    const legacy = { requestDigest: taskInputDigest({ name: 'add', args: ['1', '2'] }) };
    expect(claimMatches(legacy, { name: 'add', args: [1, 2] })).toBe(true);
    expect(claimMatches(legacy, { name: 'add', args: [1, 3] })).toBe(false);
    expect(claimMatches(legacy, { name: 'mul', args: [1, 2] })).toBe(false);
    expect(claimMatches({ requestDigest: taskInputDigest({ name: 'sleep', args: { ms: 1 } }) }, { name: 'sleep', args: { ms: 1 } })).toBe(true);
  });

  it('digests a request by task name and canonical args', () => {
    const digest = (name: string, args: unknown) => {
      const prepared = catalog.prepare(name, args);
      if (!prepared.ok) throw new Error(prepared.refused.message);
      return taskInputDigest(prepared.task.input);
    };
    expect(digest('add', [1, 2])).toBe(digest('add', ['01', '2']));
    expect(digest('add', [1, 2])).not.toBe(digest('mul', [1, 2]));
    expect(digest('add', [1, 2])).not.toBe(digest('add', [2, 1]));
    expect(digest('add', [12])).not.toBe(digest('add', [1, 2]));
  });
});
