import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { TokenIssuer } from '../../lib/auth/tokens.ts';
import { systemClock } from '../../lib/clock.ts';
import { decodeTaskMessage } from '../../lib/tasks/task-message.ts';
import { TEST_TOKEN_SETTINGS, createTestApp } from './app-harness.ts';
import type { MemoryTaskStore, RecordingQueue } from './memory-task-store.ts';
import { testUserDirectory } from './test-users.ts';

/**
 * Users of the test API. The `doozer` user has the CLI's default password, so a run with no
 * settings at all can log in; the others have passwords that appear nowhere else, so a test can
 * check that none is ever printed.
 */
export const TEST_USERS = {
  doozer: 'doozer',
  alice: 'alice-pw-3f9c1a',
  bob: 'bob-pw-8d20e4',
  carol: 'carol-pw-51b7c6',
  /** Locked out by the login-limit test: no other test logs in as her. */
  dana: 'dana-pw-0a93e2',
} as const;

export type TestUser = keyof typeof TEST_USERS;

/** The message of the failure that the `fail` consumer records. */
export const CONSUMER_FAILURE = { code: 'test_failure', message: 'the test consumer refused this task' } as const;

/**
 * What happens to a queued task: `run` finishes it with the real worker at once, `fail` ends it in
 * FAILURE, `none` leaves it PENDING (no worker is running).
 */
export type ConsumerMode = 'run' | 'fail' | 'none';

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  /** `METHOD /path` with a task id replaced by `:id`, e.g. `GET /tasks/:id`, `POST /tasks/:id/cancel`. */
  readonly route: string;
  readonly status: number;
}

export interface CliServer {
  readonly url: string;
  readonly port: number;
  readonly store: MemoryTaskStore;
  readonly queue: RecordingQueue;
  consumer: ConsumerMode;
  /** Every request answered since the last `resetRequests()`, in order. */
  readonly requests: readonly ApiRequest[];
  count(route: string): number;
  resetRequests(): void;
  /**
   * Stops the server and starts it again on the same port, keeping the store and users, with a
   * different JWT secret: every token issued before is refused (a deployment that rotated its key).
   */
  restartWithNewSecret(): Promise<void>;
  close(): Promise<void>;
}

/** `/tasks/{id}` and what follows it (`/cancel`); not `/tasks/batch`. */
const TASK_PATH = /^\/tasks\/(?!batch$)[^/]+/;

/**
 * The real API (createApp over in-memory adapters) served over HTTP on 127.0.0.1 at a free port,
 * the way the CLI meets it: counts requests per route and lets a test choose what the "worker" does.
 */
export async function startCliServer(): Promise<CliServer> {
  let consumer: ConsumerMode = 'run';
  // The login limits as deployed, over memory; every caller of this server shares one address.
  // Callbacks as on the local stage: every user signs with the development secret, and loopback
  // URLs are allowed. No request-rate limit: the tests make many requests quickly.
  const h = createTestApp({
    users: await testUserDirectory(TEST_USERS),
    clock: systemClock,
    taskTtlSeconds: 3_600,
    loginThrottle: true,
    profiles: { stage: 'local', rates: false, openTasks: false },
    callbackPolicy: { allowLoopback: true },
    worker: async (body, { worker, store }) => {
      if (consumer === 'run') return worker.process(body);
      if (consumer === 'fail') {
        const { taskId } = decodeTaskMessage(body);
        return store.transition(taskId, { from: ['PENDING'], to: 'FAILURE', at: new Date().toISOString(), error: CONSUMER_FAILURE });
      }
      return undefined;
    },
  });
  const { store, queue } = h;
  let requests: ApiRequest[] = [];
  let generation = 0;

  const listen = async (port: number): Promise<Server> => {
    generation += 1;
    // Same store, users and login throttle; only the signing secret changes.
    const app = h.appWith({
      tokens: new TokenIssuer({ ...TEST_TOKEN_SETTINGS, secret: `cli-test-secret-generation-${generation}-padded-past-32-bytes` }),
    });
    return new Promise((resolve) => {
      const server = serve(
        {
          hostname: '127.0.0.1',
          port,
          fetch: async (request) => {
            const response = await app.fetch(request);
            const { pathname } = new URL(request.url);
            const route = `${request.method} ${pathname.replace(TASK_PATH, '/tasks/:id')}`;
            requests.push({ method: request.method, path: pathname, route, status: response.status });
            return response;
          },
        },
        () => resolve(server as Server),
      );
    });
  };

  const stop = (server: Server) =>
    new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });

  let server = await listen(0);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    store,
    queue,
    get consumer() {
      return consumer;
    },
    set consumer(mode: ConsumerMode) {
      consumer = mode;
    },
    get requests() {
      return requests;
    },
    count: (route) => requests.filter((request) => request.route === route).length,
    resetRequests: () => {
      requests = [];
    },
    restartWithNewSecret: async () => {
      await stop(server);
      server = await listen(port);
    },
    close: () => stop(server),
  };
}
