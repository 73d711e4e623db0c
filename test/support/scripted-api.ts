import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskView } from '../../client/src/types.ts';

/** One request as the scripted API received it, its body as sent, byte for byte. */
export interface ScriptedRequest {
  readonly method: string;
  readonly path: string;
  /** `METHOD /path` with a task id replaced by `:id`, as in cli-server.ts. */
  readonly route: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface ScriptedAnswer {
  readonly status: number;
  /** Sent as JSON; none for an empty body. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** An answer, or what makes one from the request (to echo its fields, say). */
export type Script = ScriptedAnswer | ((request: ScriptedRequest) => ScriptedAnswer);

export interface ScriptedApi {
  readonly url: string;
  /** Every request since the last `reset()`, in order. */
  readonly requests: readonly ScriptedRequest[];
  /** The requests to `route` (`POST /tasks`), in order. */
  to(route: string): ScriptedRequest[];
  /**
   * Answers the next requests to `route` with `answers`, one each, in order. Once they are used up
   * (or without any), POST /auth/token issues a token and any other route is a 404.
   */
  script(route: string, ...answers: Script[]): void;
  reset(): void;
  close(): Promise<void>;
}

/** `/tasks/{id}` and what follows it (`/cancel`); not `/tasks/batch`. */
const TASK_PATH = /^\/tasks\/(?!batch$)[^/]+/;

/** A task as the API shows it: an add of 1 and 2, PENDING, of 2026-12-01 12:00 UTC, but for `overrides`. */
export function taskView(overrides: Partial<TaskView> = {}): TaskView {
  return {
    id: 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006',
    name: 'add',
    args: [1, 2],
    state: 'PENDING',
    createdAt: '2026-12-01T12:00:00.000Z',
    updatedAt: '2026-12-01T12:00:00.000Z',
    expiresAt: '2026-12-08T12:00:00.000Z',
    ...overrides,
  };
}

/**
 * An HTTP server on 127.0.0.1 that answers as a test scripts it, for what the real app (cli-server.ts)
 * cannot be made to do on demand, or does not do yet: a 429 with a chosen Retry-After, a request
 * field the app does not take yet. It records each request with its raw body.
 */
export async function startScriptedApi(): Promise<ScriptedApi> {
  let requests: ScriptedRequest[] = [];
  let scripts = new Map<string, Script[]>();
  const server = createServer(async (incoming, outgoing) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const path = new URL(incoming.url ?? '/', 'http://localhost').pathname;
    const method = incoming.method ?? 'GET';
    const request: ScriptedRequest = {
      method,
      path,
      route: `${method} ${path.replace(TASK_PATH, '/tasks/:id')}`,
      headers: incoming.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    requests.push(request);
    const script = scripts.get(request.route)?.shift();
    const answer = script === undefined ? fallback(request) : typeof script === 'function' ? script(request) : script;
    outgoing.writeHead(answer.status, { ...(answer.body !== undefined && { 'content-type': 'application/json' }), ...answer.headers });
    outgoing.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    to: (route) => requests.filter((request) => request.route === route),
    script: (route, ...answers) => scripts.set(route, [...(scripts.get(route) ?? []), ...answers]),
    reset: () => {
      requests = [];
      scripts = new Map();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function fallback(request: ScriptedRequest): ScriptedAnswer {
  if (request.route === 'POST /auth/token') return { status: 200, body: { token: 'scripted.test.token', tokenType: 'Bearer', expiresIn: 3_600 } };
  return { status: 404, body: { error: { code: 'not_found', message: `no answer scripted for ${request.route}` } } };
}
