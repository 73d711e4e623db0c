import { rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../../lib/webhooks/signing.ts';
import { type StackProcess, startStackProcess } from '../support/local-stack-process.ts';
import { cliEnvironment, runCli } from '../support/run-cli.ts';

interface TaskView {
  id: string;
  state: string;
  result?: unknown;
  callbackUrl?: string;
  webhook?: { id: string; state: string; attempts: number; lastStatus?: number };
}

interface Received {
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly at: number;
}

/**
 * A receiver of webhooks on loopback that keeps every request as it came (headers and raw body) and
 * answers each path with the statuses a test scripted for it, in turn (then 204).
 */
class RecordingReceiver {
  readonly received = new Map<string, Received[]>();
  readonly #script = new Map<string, number[]>();
  readonly #server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      this.received.set(path, [...(this.received.get(path) ?? []), { headers, body: Buffer.concat(chunks).toString(), at: Date.now() }]);
      response.writeHead(this.#script.get(path)?.shift() ?? 204).end();
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  /** A callbackUrl of its own, answered with `statuses` first. */
  url(path: string, statuses: number[] = []): string {
    this.#script.set(`/${path}`, statuses);
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/${path}`;
  }

  deliveries(path: string): Received[] {
    return this.received.get(`/${path}`) ?? [];
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/**
 * Completion webhooks and per-user limits over the running stack, as users meet them. The stack
 * retries webhooks after 1 s and 1 s (DOOZER_WEBHOOK_RETRY_SECONDS) so the retry path takes
 * seconds; `burst` and `opener` have limits of their own (DOOZER_LOCAL_USER_LIMITS), the others
 * the suites' generous defaults.
 */
describe('webhooks and limits on the local stack', () => {
  let stack: StackProcess;
  const receiver = new RecordingReceiver();
  const tokens = new Map<string, string>();
  const USERS = { doozer: 'doozer', burst: 'burst-pw', opener: 'opener-pw' } as const;
  type User = keyof typeof USERS;
  const BURST = 20;
  const OPEN_TASKS = 3;
  let cliEnv: NodeJS.ProcessEnv;

  const api = (user: User, path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${tokens.get(user)}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${stack.apiUrl}${path}`, { ...init, headers });
  };
  const submit = async (user: User, body: unknown, query = '') => {
    const response = await api(user, `/tasks${query}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, headers: response.headers, body: (await response.json()) as TaskView & { error?: { code: string } } };
  };
  const lookup = async (id: string, user: User = 'doozer') => (await (await api(user, `/tasks/${id}`)).json()) as TaskView;
  const eventually = async <T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 300)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    await receiver.start();
    stack = await startStackProcess({
      workers: true,
      env: {
        DOOZER_LOCAL_USERS: `burst:${USERS.burst},opener:${USERS.opener}`,
        // A tiny rate: a burst of requests at once admits the bucket's size and nothing more.
        DOOZER_LOCAL_USER_LIMITS: JSON.stringify({ burst: { burst: BURST, requestsPerSecond: 0.01 }, opener: { openTasks: OPEN_TASKS } }),
        DOOZER_WEBHOOK_RETRY_SECONDS: '1,1',
        DOOZER_SWEEPER_ENABLED: 'false',
      },
    });
    for (const [user, password] of Object.entries(USERS)) {
      const response = await fetch(`${stack.apiUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user, password }),
      });
      tokens.set(user, ((await response.json()) as { token: string }).token);
    }
    cliEnv = await cliEnvironment({ DOOZER_URL: stack.apiUrl, DOOZER_USERNAME: 'doozer', DOOZER_PASSWORD: 'doozer' });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await receiver.stop();
    if (cliEnv?.XDG_CONFIG_HOME) await rm(dirname(cliEnv.XDG_CONFIG_HOME), { recursive: true, force: true });
  });

  describe('completion webhooks', () => {
    it('delivers a task\'s end once, signed so that the standardwebhooks package verifies it', async () => {
      const callbackUrl = receiver.url('once');
      const { status, body: task } = await submit('doozer', { name: 'add', args: [20, 22], callbackUrl });
      expect(status).toBe(200);
      expect(task).toMatchObject({ state: 'SUCCESS', result: 42, callbackUrl });

      const [delivery] = await eventually(() => receiver.deliveries('once'), (list) => list.length > 0, 'no delivery');
      const verified = new Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(delivery!.body, delivery!.headers) as TaskView;
      expect(verified).toMatchObject({ id: task.id, state: 'SUCCESS', result: 42 });
      expect(delivery!.headers['content-type']).toMatch(/^application\/json/);

      const looked = await eventually(() => lookup(task.id), (view) => view.webhook?.state === 'delivered', 'not recorded delivered');
      expect(looked.webhook).toMatchObject({ id: delivery!.headers['webhook-id'], state: 'delivered', attempts: 1, lastStatus: 204 });
      // Once: nothing more comes (the notifier's lease and the delivered record stop any repeat).
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(receiver.deliveries('once')).toHaveLength(1);
    });

    it('tries a receiver that answers 500 twice then 200 three times, with one webhook-id', async () => {
      const callbackUrl = receiver.url('flaky', [500, 500, 200]);
      const { body: task } = await submit('doozer', { name: 'add', args: [1, 2], callbackUrl });
      const deliveries = await eventually(() => receiver.deliveries('flaky'), (list) => list.length >= 3, 'fewer than 3 attempts');
      expect(new Set(deliveries.map((delivery) => delivery.headers['webhook-id']))).toEqual(new Set([`msg_${task.id.slice('task_'.length)}`]));
      for (const delivery of deliveries) expect(() => new Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(delivery.body, delivery.headers)).not.toThrow();
      // Each retry waited for the schedule (1 s).
      expect(deliveries[1]!.at - deliveries[0]!.at).toBeGreaterThanOrEqual(900);
      const looked = await eventually(() => lookup(task.id), (view) => view.webhook?.state === 'delivered', 'not recorded delivered');
      expect(looked.webhook).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(receiver.deliveries('flaky')).toHaveLength(3);
    });

    it('tells the receiver of a cancelled task', async () => {
      const callbackUrl = receiver.url('cancelled');
      const { body: task } = await submit('doozer', { name: 'add', args: [1, 2], delaySeconds: 600, callbackUrl }, '?wait=0');
      expect((await api('doozer', `/tasks/${task.id}/cancel`, { method: 'POST' })).status).toBe(200);
      const [delivery] = await eventually(() => receiver.deliveries('cancelled'), (list) => list.length > 0, 'no delivery');
      expect(JSON.parse(delivery!.body)).toMatchObject({ id: task.id, state: 'CANCELLED' });
    });

    it('sends a task run with `doozer add --callback` to its callback', async () => {
      const callbackUrl = receiver.url('cli');
      const result = await runCli(['add', '5', '6', '--callback', callbackUrl], cliEnv);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const [delivery] = await eventually(() => receiver.deliveries('cli'), (list) => list.length > 0, 'no delivery');
      expect(JSON.parse(delivery!.body)).toMatchObject({ name: 'add', state: 'SUCCESS', result: 11 });
    });

    it('refuses a callbackUrl that points at a private address, even on the local stage', async () => {
      const { status, body } = await submit('doozer', { name: 'add', args: [1, 2], callbackUrl: 'http://10.1.2.3/hook' });
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('per-user limits', () => {
    it('answers every authenticated request with the RateLimit headers', async () => {
      const response = await api('doozer', '/tasks?limit=1');
      expect(response.status).toBe(200);
      for (const name of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) expect(response.headers.get(name)).toMatch(/^\d+$/);
      const health = await fetch(`${stack.apiUrl}/health`);
      expect(health.headers.get('ratelimit-limit')).toBeNull();
    });

    it('admits exactly the bucket of a burst of 200 requests at once, and refuses the rest with 429 and Retry-After', async () => {
      const responses = await Promise.all(Array.from({ length: 200 }, () => api('burst', '/tasks?limit=1')));
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(BURST);
      expect(statuses.filter((status) => status === 429)).toHaveLength(200 - BURST);
      const refused = responses.find((response) => response.status === 429)!;
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
      // Another user is not held back by it.
      expect((await api('doozer', '/tasks?limit=1')).status).toBe(200);
    });

    it('refuses a submission past the open-task limit with 429, and takes it once a task ends', async () => {
      const sleepers = [];
      for (let index = 0; index < OPEN_TASKS; index += 1) {
        const { status, body } = await submit('opener', { name: 'sleep', args: { ms: 20_000 } }, '?wait=0');
        expect(status).toBe(202);
        sleepers.push(body.id);
      }
      const refused = await submit('opener', { name: 'add', args: [1, 2] });
      expect(refused.status).toBe(429);
      expect(refused.body.error?.code).toBe('open_task_limit');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

      expect((await api('opener', `/tasks/${sleepers[0]}/cancel`, { method: 'POST' })).status).toBe(200);
      const accepted = await submit('opener', { name: 'add', args: [1, 2] });
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ state: 'SUCCESS', result: 3 });
      for (const id of sleepers.slice(1)) await api('opener', `/tasks/${id}/cancel`, { method: 'POST' });
    });
  });
});
