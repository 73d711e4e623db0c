import type { ApiErrorBody, TaskPage, TaskType, TaskView, TokenResponse } from '../../client/src/types.ts';

/** An answer of the API that is not a success, with the API's own code and message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'doozer.token';
const USER_KEY = 'doozer.user';

/**
 * The signed-in user, kept for this tab only (sessionStorage): a token is not left behind in the
 * browser's profile for whoever uses it next, and it dies with the tab. /docs reads the same key to
 * start authorized.
 */
export const session = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get user(): string | null {
    return sessionStorage.getItem(USER_KEY);
  },
  start(user: string, token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, user);
  },
  end(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

/** Called when the API refuses the token (expired or revoked): the page asks to sign in again. */
let onSignedOut: (message: string) => void = () => {};
export function whenSignedOut(handler: (message: string) => void): void {
  onSignedOut = handler;
}

interface Call {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  readonly auth?: boolean;
}

/** One request to the API on this page's own origin; any answer but a 2xx throws an ApiError. */
async function call<T>(path: string, { method = 'GET', body, signal, auth = true }: Call = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = session.token;
  if (auth && token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, signal, ...(body !== undefined && { body: JSON.stringify(body) }) });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, 'network', 'The API cannot be reached. Check your connection; the page tries again.');
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) return { status: response.status, body: parsed as T };
  const error = (parsed as ApiErrorBody | undefined)?.error;
  const retryAfter = Number(response.headers.get('retry-after'));
  const failure = new ApiError(
    response.status,
    error?.code ?? `http_${response.status}`,
    error?.message ?? `The API answered ${response.status} ${response.statusText}.`,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
  // Only for the token still in use: a late answer to a request made before signing in again must
  // not end the new session.
  if (response.status === 401 && auth && token && session.token === token) {
    session.end();
    onSignedOut(`Your session ended (${failure.message}). Sign in again.`);
  }
  throw failure;
}

export const api = {
  async signIn(username: string, password: string): Promise<TokenResponse> {
    return (await call<TokenResponse>('/auth/token', { method: 'POST', body: { username, password }, auth: false })).body;
  },
  async taskTypes(): Promise<TaskType[]> {
    return (await call<{ taskTypes: TaskType[] }>('/task-types', { auth: false })).body.taskTypes;
  },
  /** `wait` seconds for it to end: 200 with the ended task, or 202 with it still open. */
  async submit(name: string, args: unknown, wait: number): Promise<{ status: number; task: TaskView }> {
    const { status, body } = await call<TaskView>(`/tasks?wait=${wait}`, { method: 'POST', body: { name, args } });
    return { status, task: body };
  },
  /** The task, once it ends or after `wait` seconds, whichever comes first. */
  async task(id: string, wait: number, signal?: AbortSignal): Promise<TaskView> {
    return (await call<TaskView>(`/tasks/${encodeURIComponent(id)}?wait=${wait}`, { signal })).body;
  },
  async list(query: URLSearchParams, signal?: AbortSignal): Promise<TaskPage> {
    const search = query.toString();
    return (await call<TaskPage>(`/tasks${search ? `?${search}` : ''}`, { signal })).body;
  },
  async cancel(id: string): Promise<TaskView> {
    return (await call<TaskView>(`/tasks/${encodeURIComponent(id)}/cancel`, { method: 'POST' })).body;
  },
};

/** How long to hold off after a failed call: what a 429 or 503 asks, else a few seconds. */
export function backoffMs(error: unknown): number {
  if (error instanceof ApiError && error.retryAfterSeconds !== undefined) return error.retryAfterSeconds * 1000;
  return 3000;
}
