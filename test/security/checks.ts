import { expect } from 'vitest';
import type { ErrorCode } from '../../lib/errors.ts';
import { TEST_PASSWORDS, type TestApp } from '../support/app-harness.ts';

/**
 * What the security suites check of the real app (test/support/app-harness.ts, its defaults: every
 * queued task runs at once, and time moves only when the service sleeps): the one error shape, and
 * that the app still serves once the attacks are over.
 */
export const USER = { username: 'alice', password: TEST_PASSWORDS.alice } as const;

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
export async function expectStillServing({ app }: Pick<TestApp, 'app'>): Promise<void> {
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
