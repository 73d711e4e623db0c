/**
 * DoozerClient.submitBatchJson, which `doozer batch` sends with: each item's own JSON text, as it
 * is, to the real app in-process (in-memory adapters), so the API judges what the file says.
 */
import { describe, expect, it } from 'vitest';
import { DoozerClient } from '../../client/src/doozer-client.ts';
import { DoozerApiError, DoozerClientError } from '../../client/src/errors.ts';
import { MemoryTokenCache } from '../../client/src/token-cache.ts';
import { systemClock } from '../../lib/clock.ts';
import { createTestApp } from '../support/app-harness.ts';

/** The app over in-memory adapters with no worker, a client whose fetch calls it, and the batch bodies it was sent. */
function harness() {
  const { app, store } = createTestApp({ worker: false, clock: systemClock, taskTtlSeconds: 3_600 });
  const bodies: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    if (new URL(input instanceof Request ? input.url : input).pathname === '/tasks/batch') bodies.push(String(init?.body));
    return app.request(input, init);
  };
  const client = new DoozerClient({ url: 'http://doozer.test', username: 'alice', password: 'alice-password', tokenCache: new MemoryTokenCache(), fetch });
  return { client, store, bodies };
}

/** Awaits `promise` expecting a DoozerClientError and returns it. */
async function clientError(promise: Promise<unknown>): Promise<DoozerClientError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(DoozerClientError);
  return error as DoozerClientError;
}

describe('DoozerClient.submitBatchJson', () => {
  it('sends each item as its own text, for the API to judge: 1e400 is Infinity to it, not null', async () => {
    const { client, bodies } = harness();
    const items = ['{ "name": "add", "args": [1, 2] }', '{"name":"add","args":[1e400]}', '{"name":"\\u006dul","args":[6,7],"delaySeconds":1200}'];
    const { results, replayed } = await client.submitBatchJson(items);
    expect(bodies).toEqual([`{"tasks":[${items.join(',')}]}`]);
    expect(replayed).toBe(false);
    expect(results[0]).toMatchObject({ task: { name: 'add', args: [1, 2], state: 'PENDING' } });
    expect(results[1]).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('Infinity') } });
    expect(results[2]).toMatchObject({ task: { name: 'mul', state: 'SCHEDULED' } });
  });

  it('lets the API see a key given twice, which it refuses with the whole batch, where parsing again would have sent the last', async () => {
    const { client, store } = harness();
    const error = await clientError(client.submitBatchJson(['{"name":"add","args":[1]}', '{"name":"add","args":[3],"name":"mul"}']));
    expect(error).toBeInstanceOf(DoozerApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', message: 'the body has the key "name" more than once in one object' });
    expect(store.tasks.size).toBe(0);
  });

  it('meets the limits readBatchLines keeps lines within: 62 levels of nesting, and a body of 1 MiB', async () => {
    const { client } = harness();
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    // {"tasks":[…]} takes two of the 64 levels a body may nest: an item of 62 is judged on its own.
    expect((await client.submitBatchJson([nested(62)])).results[0]).toMatchObject({ error: { code: 'invalid_request' } });
    expect(await clientError(client.submitBatchJson([nested(63)]))).toMatchObject({ status: 400, message: expect.stringContaining('more than 64 deep') });
    // A body of 1 MiB exactly is read (and its one task judged too large); a byte more is not.
    const padded = (bytes: number) => `"${'x'.repeat(bytes - 12 - 2)}"`;
    const [item] = (await client.submitBatchJson([padded(1024 * 1024)])).results;
    expect(item).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('a task is at most 65536') } });
    expect(await clientError(client.submitBatchJson([padded(1024 * 1024 + 1)]))).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it.each([
    ['a text that is not JSON', ['{"name":"add","args":[1]}', '{"name":"add",'], 'batch item 1 is not one JSON value (Expected double-quoted property name'],
    ['two values run together', ['1],[2'], 'batch item 0 is not one JSON value'],
    ['no text at all', [''], 'batch item 0 is not one JSON value (Unexpected end of JSON input); nothing was sent'],
    ['an object, not its text', [{ name: 'add', args: [1] } as unknown as string], 'batch item 0 is not one JSON value (not a string but object); nothing was sent'],
  ])('sends nothing for %s', async (_case, items, message) => {
    const { client, bodies } = harness();
    const error = await clientError(client.submitBatchJson(items));
    expect(error).not.toBeInstanceOf(DoozerApiError);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(message);
    expect(bodies).toEqual([]);
  });

  it('takes an Idempotency-Key, as submitBatch does, and replays the same tasks', async () => {
    const { client, store } = harness();
    const items = ['{"name":"add","args":[1]}', '{"name":"add","args":[2]}'];
    const first = await client.submitBatchJson(items, { idempotencyKey: 'file-1' });
    const again = await client.submitBatchJson(items, { idempotencyKey: 'file-1' });
    expect(again.replayed).toBe(true);
    expect(again.results.map((result) => result.task?.id)).toEqual(first.results.map((result) => result.task?.id));
    expect(store.tasks.size).toBe(2);
  });
});

describe('DoozerClient.submitBatch', () => {
  it('still encodes typed items itself: bigints exactly, a runAt Date as its ISO time', async () => {
    const { client, bodies } = harness();
    const runAt = new Date(Date.now() + 3_600_000);
    const { results } = await client.submitBatch([
      { name: 'add', args: [3n ** 40n, 1] },
      { name: 'sleep', args: { ms: 5 }, runAt },
    ]);
    expect(bodies).toEqual([JSON.stringify({ tasks: [{ name: 'add', args: ['12157665459056928801', 1] }, { name: 'sleep', args: { ms: 5 }, runAt: runAt.toISOString() }] })]);
    expect(results.map((result) => result.task?.state)).toEqual(['PENDING', 'SCHEDULED']);
  });
});
