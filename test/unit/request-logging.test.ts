import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Hono } from 'hono';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../lib/auth/tokens.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import { type Logger, scopedLogger } from '../../lib/logger.ts';
import type { Task } from '../../lib/tasks/task.ts';
import { TEST_TOKEN_SETTINGS, createTestApp } from '../support/app-harness.ts';
import { CapturedLogs, type LogLine } from '../support/captured-logs.ts';
import { MemoryTaskStore } from '../support/memory-task-store.ts';
import { testPasswordHash } from '../support/test-users.ts';

/**
 * The API's logs, as CloudWatch would get them: the real Powertools Logger writing JSON to stdout
 * and stderr, read back line by line (test/support/captured-logs.ts).
 */
const JWT_SECRET = TEST_TOKEN_SETTINGS.secret;
const ALICE = { username: 'alice', password: 'alice-password-never-logged' };
const BOB = { username: 'bob', password: 'bob-password-never-logged' };
const WRONG_PASSWORD = 'a-wrong-password-never-logged';
/** A task id whose lookup hits a bug in the store (500 internal). */
const BROKEN_TASK_ID = 'task_00000000-0000-4000-8000-000000000000';

let hashes: string[];
let users: UserDirectory;
const forger = new TokenIssuer({ secret: 'another-secret-of-at-least-32-characters!', issuer: 'doozer', audience: 'doozer-api', ttlSeconds: 3600 });

beforeAll(async () => {
  hashes = [await testPasswordHash(ALICE.password), await testPasswordHash(BOB.password)];
  users = new UserDirectory([
    { username: ALICE.username, passwordHash: hashes[0]! },
    { username: BOB.username, passwordHash: hashes[1]! },
  ]);
});

let logs: CapturedLogs;
beforeEach(() => {
  logs = new CapturedLogs();
});
afterEach(() => {
  logs.restore();
});
const logLines = () => logs.lines();

class BrokenStore extends MemoryTaskStore {
  override async get(id: string): Promise<Task | undefined> {
    if (id === BROKEN_TASK_ID) throw new TypeError('a bug in the store');
    return super.get(id);
  }
}

/** The app over in-memory adapters, writing its logs as the api function does (lib/dependencies.ts). */
function harness({ worker = true, wrap }: { worker?: boolean; wrap?: (app: Hono, logger: Logger) => Hono } = {}) {
  const logger = scopedLogger(new PowertoolsLogger({ serviceName: 'doozer' }));
  const h = createTestApp({ store: new BrokenStore(), worker, users, loginThrottle: true, logger });
  const app = h.app as unknown as Hono;
  return { app: wrap ? wrap(app, logger) : app, store: h.store, clock: h.clock };
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * Drives the app through a session: /health, logins with right and wrong passwords, a submission
 * and its lookup, an unknown route, bad tokens and a bug. Returns what a leak would expose.
 */
async function session(app: Hono): Promise<{ token: string; taskId: string; badTokens: string[] }> {
  expect((await app.request('/health')).status).toBe(200);
  expect((await app.request('/auth/token', json({ username: ALICE.username, password: WRONG_PASSWORD }))).status).toBe(401);
  const login = await app.request('/auth/token', json(ALICE));
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };
  const authorization = `Bearer ${token}`;
  const submitted = await app.request('/tasks', json({ name: 'add', args: [1, 2, 3] }, { authorization }));
  expect(submitted.status).toBe(200);
  const { id: taskId } = (await submitted.json()) as { id: string };
  expect((await app.request(`/tasks/${taskId}`, { headers: { authorization } })).status).toBe(200);
  expect((await app.request('/no/such/route', { headers: { authorization } })).status).toBe(404);
  const forged = (await forger.issue(ALICE.username)).token;
  const badTokens = [forged, `${token.slice(0, -4)}AAAA`, 'not-a-jwt'];
  for (const bad of badTokens) {
    expect((await app.request(`/tasks/${taskId}`, { headers: { authorization: `Bearer ${bad}` } })).status).toBe(401);
  }
  expect((await app.request(`/tasks/${BROKEN_TASK_ID}`, { headers: { authorization } })).status).toBe(500);
  return { token, taskId, badTokens };
}

/** Which of the secrets appear anywhere in the lines (whole, or the signature of a token). */
function leaks(lines: readonly LogLine[], secrets: readonly string[]): string[] {
  const text = lines.map((line) => line.raw).join('\n');
  return secrets.filter((secret) => text.includes(secret));
}

function secretsOf(run: { token: string; badTokens: string[] }): string[] {
  const signatures = [run.token, ...run.badTokens].map((token) => token.split('.')[2]).filter((s): s is string => !!s && s.length > 10);
  const hashKeys = hashes.map((hash) => hash.split('$').at(-1)!);
  return [ALICE.password, BOB.password, WRONG_PASSWORD, JWT_SECRET, run.token, ...run.badTokens.filter((t) => t.length > 10), ...signatures, ...hashes, ...hashKeys];
}

const accessLines = (lines: readonly LogLine[]) => lines.filter((line) => line.json.message === 'request');

describe('request logging', () => {
  it('writes one JSON access line per request with the method, route, status, duration and error code', async () => {
    const { app } = harness();
    const { taskId } = await session(app);
    const access = accessLines(logLines()).map((line) => line.json);
    expect(access.map((line) => [line.method, line.route ?? line.path, line.status, line.code])).toEqual([
      ['GET', '/health', 200, undefined],
      ['POST', '/auth/token', 401, 'unauthorized'],
      ['POST', '/auth/token', 200, undefined],
      ['POST', '/tasks', 200, undefined],
      ['GET', '/tasks/:id', 200, undefined],
      ['GET', '/no/such/route', 404, 'not_found'],
      ['GET', '/tasks/:id', 401, 'unauthorized'],
      ['GET', '/tasks/:id', 401, 'unauthorized'],
      ['GET', '/tasks/:id', 401, 'unauthorized'],
      ['GET', '/tasks/:id', 500, 'internal'],
    ]);
    for (const line of access) {
      expect(line).toMatchObject({ level: 'INFO', service: 'doozer' });
      expect(line.durationMs).toBeTypeOf('number');
    }
    expect(access[4]!.path).toBe(`/tasks/${taskId}`);
  });

  it('puts the request id on every line, and the user on every line once the token is verified', async () => {
    const { app } = harness();
    await session(app);
    const lines = logLines();
    expect(lines.length).toBeGreaterThan(10);
    const requestIds = new Set<unknown>();
    for (const { json: line, raw } of lines) {
      expect(line.requestId, raw).toMatch(/^[0-9a-f-]{36}$/);
      requestIds.add(line.requestId);
    }
    expect(requestIds.size).toBe(accessLines(lines).length);
    // The user is known from a verified bearer token or a successful login: absent (not null) on
    // /health, on a refused login, and when the token was refused.
    for (const { json: line, raw } of lines) {
      const authenticated =
        typeof line.route === 'string' && (line.route.startsWith('/tasks') || line.route === '/auth/token') && line.status !== 401;
      if (line.message === 'request') expect(line.user, raw).toBe(authenticated ? ALICE.username : undefined);
    }
    const bug = lines.find((line) => line.json.message === 'unhandled error')!;
    expect(bug.json).toMatchObject({ level: 'ERROR', user: ALICE.username, taskId: BROKEN_TASK_ID });
    expect(bug.json.requestId).toBe(accessLines(lines).at(-1)!.json.requestId);
  });

  it('puts the task id on the lines of a task request: from the path, or from the task a POST created', async () => {
    const { app } = harness();
    const { taskId } = await session(app);
    const access = accessLines(logLines()).map((line) => line.json);
    expect(access[3]).toMatchObject({ route: '/tasks', taskId });
    expect(access[4]).toMatchObject({ route: '/tasks/:id', taskId });
    expect(access.filter((line) => line.status === 401 && line.route === '/tasks/:id').every((line) => line.taskId === taskId)).toBe(true);
    expect(access.filter((line) => !String(line.route).startsWith('/tasks')).every((line) => line.taskId === undefined)).toBe(true);
  });

  it("gives the task service's own lines the request's keys", async () => {
    const { app, store } = harness({ worker: false });
    const { token } = (await (await app.request('/auth/token', json(ALICE))).json()) as { token: string };
    logs.clear();
    store.failNext('get');
    const response = await app.request('/tasks?wait=1', json({ name: 'add', args: [1] }, { authorization: `Bearer ${token}` }));
    expect(response.status).toBe(202);
    const [deferred, access] = logLines().map((line) => line.json);
    expect(deferred).toMatchObject({ level: 'WARN', message: 'store unavailable while waiting; deferring', user: ALICE.username });
    expect(access).toMatchObject({ message: 'request', status: 202, user: ALICE.username, taskId: deferred!.taskId });
    expect(deferred!.requestId).toBe(access!.requestId);
  });

  it('never logs a password, the JWT secret, a bearer token or a password hash', async () => {
    const { app } = harness();
    const run = await session(app);
    expect(leaks(logLines(), secretsOf(run))).toEqual([]);
  });

  it('would catch a line that logged the request body or the Authorization header', async () => {
    // The same session through an app that also logs what must never be logged: the check above
    // must find it, or it proves nothing.
    const { app } = harness({
      wrap: (inner, logger) =>
        new Hono()
          .use(async (c, next) => {
            logger.info('incoming', { body: await c.req.raw.clone().text(), authorization: c.req.header('authorization') });
            await next();
          })
          .route('/', inner),
    });
    const run = await session(app);
    expect(leaks(logLines(), secretsOf(run))).toEqual(expect.arrayContaining([ALICE.password, WRONG_PASSWORD, run.token]));
  });

  it('keeps the keys of concurrent requests apart and ends them with each request', async () => {
    const { app } = harness();
    const tokenOf = async (user: typeof ALICE) => ((await (await app.request('/auth/token', json(user))).json()) as { token: string }).token;
    const owners = new Map<string, string>();
    const auth = { [ALICE.username]: `Bearer ${await tokenOf(ALICE)}`, [BOB.username]: `Bearer ${await tokenOf(BOB)}` };
    for (const user of [ALICE.username, BOB.username]) {
      for (let i = 0; i < 3; i += 1) {
        const response = await app.request('/tasks', json({ name: 'add', args: [i] }, { authorization: auth[user]! }));
        owners.set(((await response.json()) as { id: string }).id, user);
      }
    }
    logs.clear();
    const ids = [...owners.keys()];
    await Promise.all(
      [...ids, ...ids].map((id) => app.request(`/tasks/${id}?wait=0.1`, { headers: { authorization: auth[owners.get(id)!]! } })),
    );
    // A request with no user afterwards: nothing of the ones before reaches it.
    await app.request('/health');
    const lines = logLines().map((line) => line.json);
    expect(lines).toHaveLength(ids.length * 2 + 1);
    for (const line of lines.slice(0, -1)) expect(line.user).toBe(owners.get(line.taskId as string));
    expect(lines.at(-1)).not.toHaveProperty('user');
    expect(lines.at(-1)).not.toHaveProperty('taskId');
  });
});
