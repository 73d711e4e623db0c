import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningProcess, type StackProcess, canUseLoopbackAddress, isListening, startStackProcess } from '../support/local-stack-process.ts';

const LOOPBACK_ALIASES = (await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map(canUseLoopbackAddress))).every(Boolean);

/**
 * The original doozer transcript, over HTTP, against the stack started the way `npm start` starts
 * it: serverless-offline, the embedded emulators and, later, the workers in their own process.
 */
describe('the local stack (npm start)', () => {
  let stack: StackProcess;
  let workers: RunningProcess | undefined;
  let token: string;

  const api = (path: string, init: RequestInit & { auth?: boolean } = {}) => {
    const headers = new Headers(init.headers);
    if (init.auth !== false && token) headers.set('authorization', `Bearer ${token}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${stack.apiUrl}${path}`, { ...init, headers });
  };
  const submit = (name: string, args: unknown[], query = '') =>
    api(`/tasks${query}`, { method: 'POST', body: JSON.stringify({ name, args }) });

  beforeAll(async () => {
    stack = await startStackProcess({ workers: false });
  });

  afterAll(async () => {
    await workers?.stop();
    await stack?.stop();
  });

  it('prints the API URL and the development user', () => {
    expect(stack.output()).toContain(stack.apiUrl);
    expect(stack.output()).toContain('doozer / doozer');
  });

  it('answers /ready without a token once the store and the queue answer', async () => {
    const response = await api('/ready', { auth: false });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
  });

  it('answers /health without a token', async () => {
    const response = await api('/health', { auth: false });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('issues a bearer token for the development user', async () => {
    const response = await api('/auth/token', {
      method: 'POST',
      auth: false,
      body: JSON.stringify({ username: 'doozer', password: 'doozer' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; tokenType: string; expiresIn: number };
    expect(body.tokenType).toBe('Bearer');
    expect(body.expiresIn).toBe(3600);
    token = body.token;
  });

  describe('with the workers down', () => {
    let taskId: string;

    it('defers an add with 202 and a task id', async () => {
      const response = await submit('add', [1, 2, 3], '?wait=1');
      expect(response.status).toBe(202);
      const task = (await response.json()) as { id: string; state: string };
      expect(task.id).toMatch(/^task_[0-9a-f-]{36}$/);
      expect(task.state).toBe('PENDING');
      expect(response.headers.get('location')).toBe(`/tasks/${task.id}`);
      expect(response.headers.get('retry-after')).toBeTruthy();
      taskId = task.id;
    });

    it('looks the task up as PENDING', async () => {
      const response = await api(`/tasks/${taskId}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: taskId, state: 'PENDING', args: [1, 2, 3] });
    });

    it('finishes the task once the workers come back online', async () => {
      workers = await stack.startWorkers();
      const response = await api(`/tasks/${taskId}?wait=5`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: taskId, state: 'SUCCESS', result: 6 });
    });
  });

  describe('with the workers up', () => {
    it('adds 1..6 within the wait: 200 with result 21', async () => {
      const response = await submit('add', [1, 2, 3, 4, 5, 6]);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ name: 'add', state: 'SUCCESS', result: 21 });
    });

    it('multiplies 2,3,4: 200 with result 24', async () => {
      const response = await submit('mul', [2, 3, 4]);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ name: 'mul', state: 'SUCCESS', result: 24 });
    });

    it('computes exactly beyond 2^53, answering with a decimal string', async () => {
      const response = await submit('mul', ['9007199254740993', '3']);
      expect(await response.json()).toMatchObject({ state: 'SUCCESS', result: '27021597764222979' });
    });
  });

  describe('errors', () => {
    it('answers 401 with WWW-Authenticate without a token', async () => {
      const response = await api('/tasks', { method: 'POST', auth: false, body: JSON.stringify({ name: 'add', args: [1] }) });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
    });

    it('answers 401 for wrong credentials', async () => {
      const response = await api('/auth/token', {
        method: 'POST',
        auth: false,
        body: JSON.stringify({ username: 'doozer', password: 'wrong' }),
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
    });

    it('answers 404 for an unknown task id', async () => {
      const response = await api('/tasks/task_00000000-0000-4000-8000-000000000000');
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'task_not_found' } });
    });

    it('answers 400 naming the problem for a bad body', async () => {
      const response = await submit('add', [1, 1.5]);
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toContain('args[1]');
    });

    it('answers unknown routes with the JSON error shape', async () => {
      const response = await api('/nowhere');
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'not_found' } });
    });
  });

  describe('as deployed, not as serverless-offline answers', () => {
    it('sends no CORS header, whatever the Origin (the deployed API has CORS off)', async () => {
      for (const [path, init] of [
        ['/health', {}],
        ['/tasks', { method: 'POST', body: JSON.stringify({ name: 'add', args: [1] }) }],
        ['/tasks', { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } }],
      ] as const) {
        const response = await api(path, { ...init, headers: { ...('headers' in init ? init.headers : {}), origin: 'https://evil.example' } });
        const cors = [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
        expect(cors, `${init.method ?? 'GET'} ${path}`).toEqual([]);
      }
    });

    it('answers OPTIONS with 204 and Allow, and another method on a known path with 405 and Allow', async () => {
      const options = await api('/tasks', { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
      expect(options.status).toBe(204);
      expect(options.headers.get('allow')).toBe('POST, GET, HEAD, OPTIONS');
      const wrong = await api('/tasks', { method: 'DELETE' });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toBe('POST, GET, HEAD, OPTIONS');
      expect(await wrong.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
    });

    it('answers a body over 10 MiB with 413 in the JSON error shape', async () => {
      const response = await api('/tasks', { method: 'POST', body: 'x'.repeat(10 * 1024 * 1024 + 1) });
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    });

    it('answers headers past the limit with 431 in the JSON error shape', async () => {
      const response = await api('/health', { auth: false, headers: { 'x-padding': 'x'.repeat(20_000) } });
      expect(response.status).toBe(431);
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
    });

  });

  // Posing as several clients takes more loopback addresses than 127.0.0.1: Linux has all of
  // 127/8, macOS only what is aliased on lo0 (`sudo ifconfig lo0 alias 127.0.0.2 up`, …).
  describe.runIf(LOOPBACK_ALIASES)('login limits per client address, from 127.0.0.2 to 127.0.0.5', () => {
    /** A login from `localAddress` (any 127/8 address is this machine's), answered with its status. */
    const loginFrom = (localAddress: string, password: string, username = 'doozer') =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ username, password });
        const req = request(`${stack.apiUrl}/auth/token`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });

    it('checks at most five passwords of 50 wrong and 1 right sent at once from one address', async () => {
      const passwords = Array.from({ length: 51 }, (_, i) => (i === 25 ? 'doozer' : 'wrong'));
      const statuses = await Promise.all(passwords.map((password) => loginFrom('127.0.0.4', password)));
      const checked = statuses.filter((status) => status === 401 || status === 200);
      expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(5);
      expect(checked.length).toBeLessThanOrEqual(6);
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(45);
    });

    it('stops a flood of ever-new user names from one address after 100 failures', async () => {
      let next = 0;
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 110) {
            next += 1;
            statuses.push(await loginFrom('127.0.0.5', 'guess', `new-name-${next}`));
          }
        }),
      );
      expect(statuses.filter((status) => status === 401)).toHaveLength(100);
      expect(statuses.filter((status) => status === 429)).toHaveLength(10);
    });

    it('counts logins per client address: five wrong from 127.0.0.2 lock that address out, not the user', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) statuses.push(await loginFrom('127.0.0.2', 'wrong'));
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      expect(await loginFrom('127.0.0.2', 'doozer')).toBe(429);
      expect(await loginFrom('127.0.0.3', 'doozer')).toBe(200);
    });
  });

  it('stops everything on Ctrl-C, leaving no port open', async () => {
    expect(await workers!.stop('SIGINT')).toBe(0);
    expect(await stack.stop('SIGINT')).toBe(0);
    for (const port of Object.values(stack.ports)) {
      expect(await isListening(port), `port ${port} still open`).toBe(false);
    }
  });
});
