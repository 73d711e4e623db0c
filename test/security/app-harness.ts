import { expect } from 'vitest';
import { TokenIssuer, type TokenSettings } from '../../lib/auth/tokens.ts';
import type { ErrorCode } from '../../lib/errors.ts';
import { createApp } from '../../lib/http/app.ts';
import { TaskService } from '../../lib/tasks/task-service.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { MemoryIdempotencyStore } from '../support/memory-idempotency-store.ts';
import { MemoryTaskStore, RecordingQueue } from '../support/memory-task-store.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { testUserDirectory } from '../support/test-users.ts';
import { catalog } from '../support/catalog.ts';

/**
 * The real Hono app over the in-memory adapters, as test/unit/app.test.ts drives it, for the
 * security suites: every queued task runs at once, and time moves only when the service sleeps.
 */
export const TOKEN_SETTINGS: TokenSettings = {
  secret: 'a-security-test-secret-of-at-least-32-characters',
  issuer: 'doozer',
  audience: 'doozer-api',
  ttlSeconds: 3600,
};
export const USER = { username: 'alice', password: 'alice-password' } as const;

/** Every code an error body may carry; the compiler keeps it in step with lib/errors.ts. */
export const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set(
  Object.keys({
    invalid_request: true,
    unauthorized: true,
    unknown_task: true,
    not_found: true,
    method_not_allowed: true,
    task_not_found: true,
    task_ended: true,
    payload_too_large: true,
    idempotency_key_reused: true,
    request_in_progress: true,
    too_many_requests: true,
    open_task_limit: true,
    unavailable: true,
    internal: true,
  } satisfies Record<ErrorCode, true>),
);

export interface SecurityHarness {
  readonly app: ReturnType<typeof createApp>;
  readonly store: MemoryTaskStore;
  readonly queue: RecordingQueue;
  readonly tokens: TokenIssuer;
  /** A fresh, valid bearer token for alice. */
  token(): Promise<string>;
}

export async function createHarness(): Promise<SecurityHarness> {
  const users = await testUserDirectory({ [USER.username]: USER.password });
  const tokens = new TokenIssuer(TOKEN_SETTINGS);
  const clock = new FakeClock();
  const store = new MemoryTaskStore();
  const worker = new TaskWorker({ catalog, store, clock });
  const queue = new RecordingQueue((body) => worker.process(body));
  const idempotency = new MemoryIdempotencyStore();
  const tasks = new TaskService({ store, queue, idempotency, taskTtlSeconds: 86_400, clock, sleep: clock.sleep });
  const app = createApp({ catalog, tasks, users, tokens });
  return { app, store, queue, tokens, token: async () => (await tokens.issue(USER.username)).token };
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

/**
 * The problems with an error response, or [] when it is the one error shape: JSON
 * `{"error":{"code","message"}}` with exactly those keys, a known code and a non-empty message.
 */
export async function errorShapeProblems(response: Response): Promise<string[]> {
  const problems: string[] = [];
  if (!/^application\/json/.test(response.headers.get('content-type') ?? '')) {
    problems.push(`content-type ${response.headers.get('content-type')}`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [...problems, `body is not JSON: ${text.slice(0, 80)}`];
  }
  const error = (body as { error?: unknown } | null)?.error as Partial<ErrorBody> | undefined;
  if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'error')
    problems.push(`body keys ${text.slice(0, 80)}`);
  else if (typeof error !== 'object' || error === null) problems.push('error is not an object');
  else {
    if (Object.keys(error).sort().join() !== 'code,message') problems.push(`error keys ${Object.keys(error).join()}`);
    if (typeof error.code !== 'string' || !KNOWN_ERROR_CODES.has(error.code))
      problems.push(`unknown code ${String(error.code)}`);
    if (typeof error.message !== 'string' || error.message === '') problems.push('empty message');
  }
  return problems;
}

/** Asserts that the app still serves a valid login, submission and lookup correctly. */
export async function expectStillServing(harness: SecurityHarness): Promise<void> {
  const { app } = harness;
  const login = await app.request('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(USER),
  });
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };
  const authorization = `Bearer ${token}`;
  const submitted = await app.request('/tasks', {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'add', args: [1, 2, '3'] }),
  });
  expect(submitted.status).toBe(200);
  const view = (await submitted.json()) as { id: string; state: string; result: unknown };
  expect(view).toMatchObject({ state: 'SUCCESS', result: 6 });
  const lookedUp = await app.request(`/tasks/${view.id}`, { headers: { authorization } });
  expect(lookedUp.status).toBe(200);
  expect(await lookedUp.json()).toMatchObject({ id: view.id, state: 'SUCCESS', result: 6 });
}
