import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UnavailableError } from '../../lib/errors.ts';
import { DynamoDbOpenTaskSlots, MISSING_TASK_GRACE_MS } from '../../lib/aws/dynamodb-open-task-slots.ts';
import { DynamoDbRequestRates } from '../../lib/aws/dynamodb-request-rates.ts';
import type { UserLimits } from '../../lib/limits/user-limits.ts';
import { newTaskId } from '../../lib/tasks/task.ts';
import { LOCAL_CREDENTIALS, REGION } from '../../local/settings.ts';
import { unreachableDocumentClient, useEmulators } from '../support/emulators.ts';

const T0 = 1_800_000_000_000;
/** Expires an hour after T0, in epoch seconds as tasks keep it. */
const LATER = T0 / 1000 + 3600;

describe('per-user limits in DynamoDB (dynalite)', () => {
  const emulators = useEmulators();
  let name = 0;
  const fresh = (prefix: string) => `${prefix}-${(name += 1)}`;

  /** A document client of its own that records the name of every call it makes. */
  function countingClient(): { documents: DynamoDBDocumentClient; calls: string[] } {
    const calls: string[] = [];
    const client = new DynamoDBClient({ region: REGION, credentials: LOCAL_CREDENTIALS, endpoint: emulators.dynamodbEndpoint });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    return { documents: DynamoDBDocumentClient.from(client), calls };
  }

  const item = async (id: string) =>
    (await emulators.documents.send(new GetCommand({ TableName: emulators.tableName, Key: { id }, ConsistentRead: true }))).Item;

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  describe('DynamoDbRequestRates', () => {
    const SLOW: UserLimits = { requestsPerSecond: 0.01, burst: 20, openTasks: 1 };
    /** Several API instances: each remembers what it saw on its own. */
    const instances = (count: number) =>
      Array.from({ length: count }, () => new DynamoDbRequestRates({ client: emulators.documents, tableName: emulators.tableName }));

    it('admits exactly the burst of 200 requests made at once by one user, across instances, and says when to retry', async () => {
      const rates = instances(4);
      const [user, other] = [fresh('user'), fresh('user')];
      const decisions = await Promise.all(Array.from({ length: 200 }, (_, i) => rates[i % 4]!.take(user, T0, SLOW)));
      expect(decisions.filter((decision) => decision.admitted)).toHaveLength(20);
      expect(decisions.filter((decision) => decision.admitted).map((decision) => decision.remaining).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
      // T = 100 s; the bucket holds 20 T: a token is back 100 s after T0, the whole burst after 2000 s.
      expect(decisions.filter((decision) => !decision.admitted)).toEqual(
        Array.from({ length: 180 }, () => ({ admitted: false, limit: 20, remaining: 0, resetSeconds: 2000, windowSeconds: 2000, retryAfterSeconds: 100 })),
      );
      await expect(rates[0]!.take(other, T0, SLOW)).resolves.toMatchObject({ admitted: true, remaining: 19 });
    });

    it('gives tokens back as time passes: one per interval, the whole burst once the bucket refilled', async () => {
      const [rates] = instances(1) as [DynamoDbRequestRates];
      const user = fresh('user');
      const takeAt = (nowMs: number, count: number) => Promise.all(Array.from({ length: count }, () => rates.take(user, nowMs, SLOW)));
      const admittedAt = async (nowMs: number, count: number) => (await takeAt(nowMs, count)).filter((decision) => decision.admitted).length;
      expect(await admittedAt(T0, 25)).toBe(20);
      expect(await admittedAt(T0 + 99_999, 5)).toBe(0);
      expect(await admittedAt(T0 + 100_000, 5)).toBe(1);
      expect(await admittedAt(T0 + 2_100_000, 25)).toBe(20);
    });

    it('keeps a fractional rate exact: 3 per second admits a burst of 30, then one each 333.333 ms', async () => {
      const [rates] = instances(1) as [DynamoDbRequestRates];
      const user = fresh('user');
      const limits: UserLimits = { requestsPerSecond: 3, burst: 30, openTasks: 1 };
      const burst = await Promise.all(Array.from({ length: 40 }, () => rates.take(user, T0, limits)));
      expect(burst.filter((decision) => decision.admitted)).toHaveLength(30);
      await expect(item(`rate#${user}`)).resolves.toMatchObject({ tat: T0 + 9999.99 });
      await expect(rates.take(user, T0 + 333.332, limits)).resolves.toMatchObject({ admitted: false });
      await expect(rates.take(user, T0 + 333.333, limits)).resolves.toMatchObject({ admitted: true, remaining: 0 });
    });

    it('costs one write per admitted request, busy or idle, and no call at all for a user it already saw at the limit', async () => {
      const { documents, calls } = countingClient();
      const rates = new DynamoDbRequestRates({ client: documents, tableName: emulators.tableName });
      const user = fresh('user');
      const limits: UserLimits = { requestsPerSecond: 1, burst: 3, openTasks: 1 };
      for (let i = 0; i < 3; i += 1) expect((await rates.take(user, T0, limits)).admitted).toBe(true);
      expect(calls).toEqual(['UpdateItemCommand', 'UpdateItemCommand', 'UpdateItemCommand']);
      calls.length = 0;
      // A second later one token is back: one write, the busy one.
      expect((await rates.take(user, T0 + 1000, limits)).admitted).toBe(true);
      expect(calls).toEqual(['UpdateItemCommand']);
      calls.length = 0;
      // The bucket this instance saw is past its bound: refused from memory.
      await expect(rates.take(user, T0 + 1000, limits)).resolves.toMatchObject({ admitted: false, retryAfterSeconds: 1 });
      expect(calls).toEqual([]);
      // Idle long enough to refill: one write again.
      expect((await rates.take(user, T0 + 60_000, limits)).admitted).toBe(true);
      expect(calls).toEqual(['UpdateItemCommand']);
    });

    it('reads once to refuse a user whose bucket another instance emptied', async () => {
      const { documents, calls } = countingClient();
      const watching = new DynamoDbRequestRates({ client: documents, tableName: emulators.tableName });
      const [other] = instances(1) as [DynamoDbRequestRates];
      const user = fresh('user');
      const limits: UserLimits = { requestsPerSecond: 1, burst: 2, openTasks: 1 };
      expect((await watching.take(user, T0, limits)).admitted).toBe(true);
      expect((await other.take(user, T0, limits)).admitted).toBe(true);
      calls.length = 0;
      await expect(watching.take(user, T0, limits)).resolves.toMatchObject({ admitted: false, retryAfterSeconds: 1 });
      expect(calls).toEqual(['UpdateItemCommand', 'UpdateItemCommand', 'GetItemCommand']);
    });

    it('sets the item to expire no sooner than its bucket is full again', async () => {
      const [rates] = instances(1) as [DynamoDbRequestRates];
      const user = fresh('user');
      for (let i = 0; i < 20; i += 1) await rates.take(user, T0, SLOW);
      const stored = await item(`rate#${user}`);
      expect(stored).toMatchObject({ tat: T0 + 2_000_000, expiresAt: T0 / 1000 + 2000 });
    });

    it('turns an unreachable table into UnavailableError, keeping the cause', async () => {
      const rates = new DynamoDbRequestRates({ client: await unreachableDocumentClient(), tableName: 'unreachable' });
      const error = await rates.take('user', T0, SLOW).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ code: 'unavailable' });
      expect((error as UnavailableError).cause).toBeDefined();
    });
  });

  describe('DynamoDbOpenTaskSlots', () => {
    const slotsOf = () => new DynamoDbOpenTaskSlots({ client: emulators.documents, tableName: emulators.tableName });
    const held = async (owner: string) => Object.keys(((await item(`open#${owner}`))?.slots as Record<string, number> | undefined) ?? {}).sort();
    const task = (id: string, expiresAt = LATER) => ({ id, expiresAt });
    const putTask = (id: string, state: string) => emulators.documents.send(new PutCommand({ TableName: emulators.tableName, Item: { id, state } }));

    it('admits exactly the limit of 200 single reservations made at once, across instances', async () => {
      const stores = Array.from({ length: 4 }, slotsOf);
      const owner = fresh('owner');
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => stores[i % 4]!.reserve(owner, [task(`t${i}`)], 25, T0)));
      expect(answers.filter((answer) => answer.admitted)).toHaveLength(25);
      expect(answers.filter((answer) => !answer.admitted)).toEqual(Array.from({ length: 175 }, () => ({ admitted: false, open: 25 })));
      expect(await held(owner)).toHaveLength(25);
    });

    it('frees released slots; releasing an id not held, or on a new owner, does nothing', async () => {
      const slots = slotsOf();
      const owner = fresh('owner');
      const ids = Array.from({ length: 10 }, () => newTaskId());
      await expect(slots.reserve(owner, ids.map((id) => task(id)), 10, T0)).resolves.toEqual({ admitted: true });
      await slots.release(owner, [ids[0]!, ids[1]!, 'task_not-held_at-all']);
      await slots.release(owner, [ids[0]!]);
      await slots.release(fresh('owner'), ids);
      await expect(slots.reserve(owner, [task('a'), task('b')], 10, T0)).resolves.toEqual({ admitted: true });
      await expect(slots.reserve(owner, [task('c')], 10, T0)).resolves.toEqual({ admitted: false, open: 10 });
      expect(await held(owner)).toEqual([...ids.slice(2), 'a', 'b'].sort());
    });

    it('refuses a batch of 10 with 5 slots free as a whole', async () => {
      const slots = slotsOf();
      const owner = fresh('owner');
      await slots.reserve(owner, Array.from({ length: 20 }, (_, i) => task(`open-${i}`)), 25, T0);
      const batch = Array.from({ length: 10 }, (_, i) => task(`new-${i}`));
      await expect(slots.reserve(owner, batch, 25, T0)).resolves.toEqual({ admitted: false, open: 20 });
      expect((await held(owner)).filter((id) => id.startsWith('new-'))).toEqual([]);
      await expect(slots.reserve(owner, batch.slice(0, 5), 25, T0)).resolves.toEqual({ admitted: true });
    });

    it('refuses a first batch larger than the limit, and takes 100 real task ids in one call', async () => {
      const slots = slotsOf();
      const owner = fresh('owner');
      const ids = Array.from({ length: 100 }, () => newTaskId());
      await expect(slots.reserve(owner, ids.map((id) => task(id)), 99, T0)).resolves.toEqual({ admitted: false, open: 0 });
      await expect(slots.reserve(owner, ids.map((id) => task(id)), 100, T0)).resolves.toEqual({ admitted: true });
      expect(await held(owner)).toEqual([...ids].sort());
      await expect(slots.reserve(owner, [...ids, 'one-more'].map((id) => task(id)), 1000, T0)).rejects.toThrow(RangeError);
      await slots.release(owner, ids);
      expect(await held(owner)).toEqual([]);
    });

    it('clears the slots of ended, expired and (past the grace) missing tasks when full, then admits', async () => {
      const slots = slotsOf();
      const owner = fresh('owner');
      await Promise.all([putTask('done', 'SUCCESS'), putTask('cancelled', 'CANCELLED'), putTask('live', 'PENDING')]);
      await slots.reserve(owner, [task('done'), task('cancelled'), task('live'), task('gone'), task('old', T0 / 1000 + 5)], 5, T0);

      // Within the grace a missing task may be one still being recorded: its slot stays.
      const inGrace = T0 + 5_000;
      await expect(slots.reserve(owner, [task('a'), task('b'), task('c'), task('d')], 5, inGrace)).resolves.toEqual({ admitted: false, open: 2 });
      expect(await held(owner)).toEqual(['gone', 'live']);
      await expect(slots.reserve(owner, [task('a'), task('b'), task('c')], 5, inGrace)).resolves.toEqual({ admitted: true });

      // Past the grace after the latest reservation, its task was never recorded: the slot is lost.
      await Promise.all(['a', 'b', 'c'].map((id) => putTask(id, 'RETRY')));
      await expect(slots.reserve(owner, [task('e')], 5, inGrace + MISSING_TASK_GRACE_MS)).resolves.toEqual({ admitted: true });
      expect(await held(owner)).toEqual(['a', 'b', 'c', 'e', 'live']);
    });

    it('checks the tasks of more than 100 slots, 100 a call', async () => {
      const slots = slotsOf();
      const owner = fresh('owner');
      const ids = Array.from({ length: 150 }, () => newTaskId());
      await slots.reserve(owner, ids.slice(0, 100).map((id) => task(id)), 150, T0);
      await slots.reserve(owner, ids.slice(100).map((id) => task(id)), 150, T0);
      await Promise.all(ids.map((id, i) => putTask(id, i === 149 ? 'PENDING' : 'FAILURE')));
      await expect(slots.reserve(owner, [task('next')], 150, T0 + 1_000)).resolves.toEqual({ admitted: true });
      expect(await held(owner)).toEqual([ids[149]!, 'next'].sort());
    });

    it('turns an unreachable table into UnavailableError, keeping the cause', async () => {
      const slots = new DynamoDbOpenTaskSlots({ client: await unreachableDocumentClient(), tableName: 'unreachable' });
      const reserve = await slots.reserve('owner', [task('a')], 5, T0).catch((caught: unknown) => caught);
      expect(reserve).toBeInstanceOf(UnavailableError);
      expect((reserve as UnavailableError).cause).toBeDefined();
      await expect(slots.release('owner', ['a'])).rejects.toMatchObject({ code: 'unavailable' });
    });
  });
});
