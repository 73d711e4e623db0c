import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDynamoDbDocumentClient } from '../../lib/aws/clients.ts';
import { DynamoDbIdempotencyStore } from '../../lib/aws/dynamodb-idempotency-store.ts';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { UnavailableError } from '../../lib/errors.ts';
import { type IdempotencyClaim, idempotencyClaimId } from '../../lib/tasks/idempotency.ts';
import { taskInputDigest } from '../../lib/tasks/task.ts';
import { newTaskId, type Task, type TaskView } from '../../lib/tasks/task.ts';
import { decodeTaskMessage } from '../../lib/tasks/task-message.ts';
import { systemClock } from '../../lib/clock.ts';
import { type TestApp, createTestApp } from '../support/app-harness.ts';
import { unreachableDocumentClient, useEmulators } from '../support/emulators.ts';
import { eventually } from '../support/eventually.ts';

const NOW_MS = Date.parse('2030-01-01T00:00:00.000Z');
const NOW_SECONDS = NOW_MS / 1000;

function claimFor(owner: string, key: string, overrides: Partial<IdempotencyClaim> = {}): IdempotencyClaim {
  return {
    id: idempotencyClaimId(owner, key),
    owner,
    taskId: newTaskId(),
    requestDigest: taskInputDigest({ name: 'add', args: [1, 2] }),
    createdAt: new Date(NOW_MS).toISOString(),
    expiresAt: NOW_SECONDS + 86_400,
    ...overrides,
  };
}

describe('DynamoDbIdempotencyStore against dynalite', () => {
  const emulators = useEmulators();
  let claims: DynamoDbIdempotencyStore;

  beforeAll(() => {
    claims = new DynamoDbIdempotencyStore({ client: emulators.documents, tableName: emulators.tableName });
  });

  it('claims a free key, refuses it to a second claim as "taken", and reads back the first', async () => {
    const first = claimFor('alice', 'adapter-1');
    const second = claimFor('alice', 'adapter-1');

    await expect(claims.claim(first, { nowMs: NOW_MS })).resolves.toBe('claimed');
    await expect(claims.claim(second, { nowMs: NOW_MS })).resolves.toBe('taken');

    await expect(claims.get(first.id)).resolves.toEqual(first);
  });

  it('returns undefined for a key never claimed', async () => {
    await expect(claims.get(idempotencyClaimId('alice', 'never'))).resolves.toBeUndefined();
  });

  it('lets exactly one of 20 concurrent claims of one key win', async () => {
    const contenders = Array.from({ length: 20 }, () => claimFor('alice', 'adapter-race'));

    const outcomes = await Promise.all(contenders.map((claim) => claims.claim(claim, { nowMs: NOW_MS })));

    expect(outcomes.filter((outcome) => outcome === 'claimed')).toHaveLength(1);
    const winner = contenders[outcomes.indexOf('claimed')];
    await expect(claims.get(winner!.id)).resolves.toEqual(winner);
  });

  it('takes over a claim once it has expired, and not a second before', async () => {
    const old = claimFor('alice', 'adapter-expiry', { expiresAt: NOW_SECONDS + 10 });
    await claims.claim(old, { nowMs: NOW_MS });
    const next = claimFor('alice', 'adapter-expiry');

    await expect(claims.claim(next, { nowMs: (NOW_SECONDS + 9) * 1000 + 999 })).resolves.toBe('taken');
    await expect(claims.claim(next, { nowMs: (NOW_SECONDS + 10) * 1000 })).resolves.toBe('claimed');
    await expect(claims.get(next.id)).resolves.toEqual(next);
  });

  it('replaces a live claim only when it still stands for the task named in `replacing`', async () => {
    const abandoned = claimFor('alice', 'adapter-replace');
    await claims.claim(abandoned, { nowMs: NOW_MS });
    const takeover = claimFor('alice', 'adapter-replace');

    await expect(claims.claim(takeover, { nowMs: NOW_MS, replacing: newTaskId() })).resolves.toBe('taken');
    await expect(claims.claim(takeover, { nowMs: NOW_MS, replacing: abandoned.taskId })).resolves.toBe('claimed');
    // A second takeover of the same abandoned claim loses: the claim now stands for another task.
    const late = claimFor('alice', 'adapter-replace');
    await expect(claims.claim(late, { nowMs: NOW_MS, replacing: abandoned.taskId })).resolves.toBe('taken');
    await expect(claims.get(takeover.id)).resolves.toEqual(takeover);
  });

  it('releases a claim only while it stands for the given task', async () => {
    const claim = claimFor('alice', 'adapter-release');
    await claims.claim(claim, { nowMs: NOW_MS });

    await expect(claims.release(claim.id, newTaskId())).resolves.toBe(false);
    await expect(claims.get(claim.id)).resolves.toEqual(claim);
    await expect(claims.release(claim.id, claim.taskId)).resolves.toBe(true);
    await expect(claims.get(claim.id)).resolves.toBeUndefined();
    await expect(claims.release(claim.id, claim.taskId)).resolves.toBe(false);
  });

  it('keeps claims and tasks apart in the one table', async () => {
    const tasks = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
    const claim = claimFor('alice', 'adapter-apart');
    await claims.claim(claim, { nowMs: NOW_MS });

    await expect(tasks.get(claim.taskId)).resolves.toBeUndefined();
    expect(claim.id).not.toMatch(/^task_/);
  });

  describe('when DynamoDB cannot be reached', () => {
    let client: ReturnType<typeof createDynamoDbDocumentClient>;
    let unreachable: DynamoDbIdempotencyStore;

    beforeAll(async () => {
      client = await unreachableDocumentClient();
      unreachable = new DynamoDbIdempotencyStore({ client, tableName: emulators.tableName });
    });

    afterAll(() => {
      client?.destroy();
      vi.unstubAllEnvs();
    });

    it.each([
      ['claim', (store: DynamoDbIdempotencyStore) => store.claim(claimFor('alice', 'down'), { nowMs: NOW_MS })],
      ['get', (store: DynamoDbIdempotencyStore) => store.get(idempotencyClaimId('alice', 'down'))],
      ['release', (store: DynamoDbIdempotencyStore) => store.release(idempotencyClaimId('alice', 'down'), newTaskId())],
    ] as const)('rejects %s with code unavailable, not as a lost condition', async (_, call) => {
      const error = await call(unreachable).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );

      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ code: 'unavailable', cause: { code: 'ECONNREFUSED' } });
    });
  });
});

/**
 * The DynamoDB task store with `create` held until `open()`: the first request stands between its
 * claim and its task for as long as a test needs. Counts reads that find no task.
 */
class HeldTaskStore extends DynamoDbTaskStore {
  missingReads = 0;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  #entered: () => void = () => {};
  entered: Promise<void> = Promise.resolve();

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
    this.entered = new Promise((resolve) => (this.#entered = resolve));
  }

  open(): void {
    this.#open();
  }

  override async create(task: Task): Promise<void> {
    this.#entered();
    await this.#gate;
    return super.create(task);
  }

  override async get(id: string): Promise<Task | undefined> {
    const task = await super.get(id);
    if (!task) this.missingReads += 1;
    return task;
  }
}

describe('POST /tasks with an Idempotency-Key, raced through the app against dynalite and fauxqs', () => {
  const emulators = useEmulators();
  let postAs: TestApp['post'];
  let store: HeldTaskStore;

  beforeAll(() => {
    const tableName = emulators.tableName;
    store = new HeldTaskStore({ client: emulators.documents, tableName });
    ({ post: postAs } = createTestApp({
      store,
      queue: new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl }),
      idempotency: new DynamoDbIdempotencyStore({ client: emulators.documents, tableName }),
      clock: systemClock,
    }));
  });

  /** POSTs as `user` with `key`; no worker runs, so a task stays PENDING and the wait runs out (202). */
  async function post(user: string, key: string, body: unknown, wait = '1'): Promise<Response> {
    return postAs(`/tasks?wait=${wait}`, body, { user, headers: { 'idempotency-key': key } });
  }

  /** The ids of `user`'s items in the table, tasks and claims apart. */
  async function itemsOf(user: string): Promise<{ tasks: string[]; claims: string[] }> {
    const { Items = [] } = await emulators.documents.send(
      new ScanCommand({
        TableName: emulators.tableName,
        FilterExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': user },
        ConsistentRead: true,
      }),
    );
    const ids = Items.map((item) => item.id as string);
    return { tasks: ids.filter((id) => id.startsWith('task_')), claims: ids.filter((id) => id.startsWith('idem#')) };
  }

  /** Receives every message on the queue (they stay invisible afterwards) and returns their task ids. */
  async function drainQueue(): Promise<string[]> {
    const taskIds: string[] = [];
    for (;;) {
      const { Messages = [] } = await emulators.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: emulators.queues.taskQueueUrl,
          MaxNumberOfMessages: 10,
          // Every send finished before its response: after the first message nothing is in flight.
          WaitTimeSeconds: taskIds.length === 0 ? 1 : 0,
          VisibilityTimeout: 300,
        }),
      );
      if (Messages.length === 0) return taskIds;
      for (const message of Messages) taskIds.push(decodeTaskMessage(message.Body!).taskId);
    }
  }

  it('creates one task and sends one message for 20 concurrent requests with the same key and body', async () => {
    const body = { name: 'mul', args: ['123456789012345678901234567890', 2] };

    const responses = await Promise.all(Array.from({ length: 20 }, () => post('racer-same', 'race-1', body)));

    const views = await Promise.all(responses.map(async (response) => (await response.json()) as TaskView));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(202));
    const ids = new Set(views.map((view) => view.id));
    expect(ids.size).toBe(1);
    const [taskId] = ids;
    for (const response of responses) expect(response.headers.get('location')).toBe(`/tasks/${taskId}`);
    const replayed = responses.filter((response) => response.headers.get('idempotent-replayed') === 'true');
    expect(replayed).toHaveLength(19);

    expect(await itemsOf('racer-same')).toEqual({ tasks: [taskId], claims: [idempotencyClaimId('racer-same', 'race-1')] });
    expect(await drainQueue()).toEqual([taskId]);
  });

  it('lets one of 10 concurrent requests with the same key and different bodies win, and refuses the others with 422', async () => {
    const bodies = Array.from({ length: 10 }, (_, index) => ({ name: 'add', args: [index, 1] }));

    const responses = await Promise.all(bodies.map((body) => post('racer-mixed', 'race-2', body)));

    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 202)).toHaveLength(1);
    expect(statuses.filter((status) => status === 422)).toHaveLength(9);
    const winner = responses[statuses.indexOf(202)]!;
    const task = (await winner.json()) as TaskView;
    const winningBody = bodies[statuses.indexOf(202)]!;
    expect(task.args).toEqual(winningBody.args);
    for (const response of responses.filter((response) => response.status === 422)) {
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    }

    expect(await itemsOf('racer-mixed')).toEqual({ tasks: [task.id], claims: [idempotencyClaimId('racer-mixed', 'race-2')] });
    expect(await drainQueue()).toEqual([task.id]);
    // The winner's body replays; the others stay refused.
    const replay = await post('racer-mixed', 'race-2', winningBody);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as TaskView).id).toBe(task.id);
    expect((await post('racer-mixed', 'race-2', bodies[statuses.indexOf(202) === 0 ? 1 : 0])).status).toBe(422);
  });

  it('makes duplicates that arrive between the claim and the task of the first request wait for the task, or answer 409', async () => {
    const body = { name: 'add', args: [40, 2] };
    store.hold();
    const first = post('racer-early', 'race-3', body);
    await store.entered;

    const impatient = await post('racer-early', 'race-3', body, '0');
    expect(impatient.status).toBe(409);
    expect(impatient.headers.get('retry-after')).toBe('1');
    expect(((await impatient.json()) as { error: { code: string } }).error.code).toBe('request_in_progress');

    store.missingReads = 0;
    const patient = Array.from({ length: 10 }, () => post('racer-early', 'race-3', body, '2'));
    // Let the first request write its task once the duplicates have read the store and missed it.
    await eventually(() => expect(store.missingReads).toBeGreaterThanOrEqual(10), { timeoutMs: 5_000, intervalMs: 5 });
    store.open();
    const responses = await Promise.all([first, ...patient]);

    const views = await Promise.all(responses.map(async (response) => (await response.json()) as TaskView));
    expect(responses.map((response) => response.status)).toEqual(Array(11).fill(202));
    const ids = new Set(views.map((view) => view.id));
    expect(ids.size).toBe(1);
    const [taskId] = ids;
    expect(responses.filter((response) => response.headers.get('idempotent-replayed') === 'true')).toHaveLength(10);
    expect((await itemsOf('racer-early')).tasks).toEqual([taskId]);
    expect(await drainQueue()).toEqual([taskId]);
  });
});
