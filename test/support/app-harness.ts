import type { Hono } from 'hono';
import { type LoginLimits, LoginThrottle } from '../../lib/auth/login-throttle.ts';
import { TokenIssuer, type TokenSettings } from '../../lib/auth/tokens.ts';
import { UserProfiles } from '../../lib/auth/user-profiles.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import type { Clock } from '../../lib/clock.ts';
import type { UserEntry } from '../../lib/config.ts';
import type { AppEnv } from '../../lib/http/app-env.ts';
import { type AppDependencies, createApp } from '../../lib/http/app.ts';
import type { ReadinessProbe } from '../../lib/http/readiness.ts';
import { DEFAULT_USER_LIMITS, type UserLimits } from '../../lib/limits/user-limits.ts';
import type { Logger } from '../../lib/logger.ts';
import type { IdempotencyStore, LoginAttemptStore, NotifierQueue, TaskQueue, TaskStore } from '../../lib/ports.ts';
import type { TaskCatalog } from '../../lib/tasks/task-catalog.ts';
import { TaskEndings } from '../../lib/tasks/task-endings.ts';
import { TaskService, type TaskServiceOptions } from '../../lib/tasks/task-service.ts';
import { TaskWorker, type TaskWorkerOptions } from '../../lib/tasks/task-worker.ts';
import type { TargetPolicy } from '../../lib/webhooks/target-policy.ts';
import { catalog as defaultCatalog } from './catalog.ts';
import { FakeClock } from './fake-clock.ts';
import { MemoryIdempotencyStore } from './memory-idempotency-store.ts';
import { MemoryLoginAttempts } from './memory-login-attempts.ts';
import { MemoryTaskStore, RecordingQueue } from './memory-task-store.ts';
import { MemoryOpenTaskSlots, MemoryRequestRates } from './memory-user-limits.ts';
import { testPasswordHash } from './test-users.ts';

/**
 * The task service and the HTTP app, wired as lib/dependencies.ts wires them but over the in-memory
 * adapters of test/support, for every test that needs them: `createTestTasks` for the core alone
 * (TaskService and a TaskWorker), `createTestApp` for the app on top of it. Every piece is the
 * in-memory one unless a test passes its own (a DynamoDB store, an SQS queue, a clock...).
 *
 * By default time is a FakeClock that moves only when the service sleeps, and every queued task
 * runs at once with the real TaskWorker, so a task finishes during the request's wait.
 */

/** The signing settings of the harness's tokens: a test that forges or checks tokens reads them here. */
export const TEST_TOKEN_SETTINGS: TokenSettings = {
  secret: 'a-test-app-secret-of-at-least-32-characters',
  issuer: 'doozer',
  audience: 'doozer-api',
  ttlSeconds: 3600,
};

/** How long a harness's tasks stay readable unless a test says otherwise: a day. */
export const TEST_TASK_TTL_SECONDS = 86_400;

/** The users who can log in to a harness app (unless a test passes its own `users`), with their passwords. */
export const TEST_PASSWORDS = { alice: 'alice-password', bob: 'bob-password', doozer: 'doozer' } as const;

/** Hashed once per test file, at the test cost; each app gets its own UserDirectory of them. */
const TEST_USER_RECORDS = await Promise.all(
  Object.entries(TEST_PASSWORDS).map(async ([username, password]) => ({ username, passwordHash: await testPasswordHash(password) })),
);

/** What runs a queued message: given the harness's worker and store, e.g. to hold or fail it. */
export type TestConsumer<S extends TaskStore> = (body: string, parts: { readonly worker: TaskWorker; readonly store: S }) => Promise<unknown>;

export interface TestTasksOptions<S extends TaskStore, Q extends TaskQueue, I extends IdempotencyStore, C extends Clock> {
  /** The tasks there are: tasks/index.ts by default. */
  readonly catalog?: TaskCatalog;
  /** A MemoryTaskStore by default. */
  readonly store?: S;
  /** A RecordingQueue by default, consumed as `worker` says; a queue passed here is the test's to consume. */
  readonly queue?: Q;
  /** A MemoryIdempotencyStore by default. */
  readonly idempotency?: I;
  /**
   * A FakeClock by default, whose sleep is the service's too (time moves only when the service
   * waits). `systemClock` for real time: real adapters, a server a real client talks to.
   */
  readonly clock?: C;
  /** How long a task stays readable: a day by default. */
  readonly taskTtlSeconds?: number;
  /**
   * What consumes the default queue: `true` (the default) runs each message at once with the real
   * TaskWorker; `false` nothing (tasks stay PENDING, a test runs `worker.process` itself); a function
   * decides per message.
   */
  readonly worker?: boolean | TestConsumer<S>;
  /** More of the worker's options; its catalog, store, clock and endings are the harness's. */
  readonly workerOptions?: Partial<Omit<TaskWorkerOptions, 'catalog' | 'store'>>;
  /** More of the service's options (newId, runLater, sleep...); its ports are the harness's. */
  readonly service?: Partial<Omit<TaskServiceOptions, 'store' | 'queue' | 'idempotency' | 'taskTtlSeconds' | 'slots' | 'openTaskLimit' | 'endings'>>;
  /** The service's logger (not the worker's), and the app's. */
  readonly logger?: Logger;
  /**
   * Each user's limits and webhook settings, as the configuration gives them; without it there are
   * no limits, and no webhooks. With it, requests and open tasks are counted as deployed, unless
   * `rates` or `openTasks` is false.
   */
  readonly profiles?: TestProfiles;
  /** Where callbacks may go; without it a callbackUrl is refused (the app sends no webhooks). */
  readonly callbackPolicy?: TargetPolicy;
  /** The notifier's queue: a task with a callbackUrl is announced there when it ends. */
  readonly notices?: NotifierQueue;
}

export interface TestProfiles {
  /** DOOZER_USERS entries beside the passwords: each one's webhookSecret, callbackUrl and own limits. */
  readonly users?: readonly UserEntry[];
  /** The deployment's default limits, over DEFAULT_USER_LIMITS. */
  readonly defaultLimits?: Partial<UserLimits>;
  /** 'test' by default; on 'local' every user signs webhooks with the development secret. */
  readonly stage?: string;
  /** Count each user's requests (429 past the rate), in a MemoryRequestRates: true by default. */
  readonly rates?: boolean;
  /** Count each user's open tasks (429 open_task_limit), in MemoryOpenTaskSlots: true by default. */
  readonly openTasks?: boolean;
}

export interface TestTasks<S extends TaskStore = MemoryTaskStore, Q extends TaskQueue = RecordingQueue, I extends IdempotencyStore = MemoryIdempotencyStore, C extends Clock = FakeClock> {
  readonly tasks: TaskService;
  readonly worker: TaskWorker;
  readonly store: S;
  readonly queue: Q;
  readonly idempotency: I;
  readonly clock: C;
  readonly catalog: TaskCatalog;
  /** Present with `profiles`. */
  readonly profiles?: UserProfiles;
  /** Present with `profiles`, unless `openTasks` is false. */
  readonly slots?: MemoryOpenTaskSlots;
  /** Shared by the service and the worker; present with open-task slots or `notices`. */
  readonly endings?: TaskEndings;
}

/** The core over in-memory adapters: a TaskService, and the TaskWorker that runs what it queues. */
export function createTestTasks<S extends TaskStore = MemoryTaskStore, Q extends TaskQueue = RecordingQueue, I extends IdempotencyStore = MemoryIdempotencyStore, C extends Clock = FakeClock>(options: TestTasksOptions<S, Q, I, C> = {}): TestTasks<S, Q, I, C> {
  const catalog = options.catalog ?? defaultCatalog;
  const store = options.store ?? (new MemoryTaskStore() as TaskStore as S);
  const clock = options.clock ?? (new FakeClock() as Clock as C);
  const idempotency = options.idempotency ?? (new MemoryIdempotencyStore() as IdempotencyStore as I);
  const profileSettings = options.profiles;
  const profiles =
    profileSettings &&
    new UserProfiles(profileSettings.users ?? [], {
      defaultLimits: { ...DEFAULT_USER_LIMITS, ...profileSettings.defaultLimits },
      stage: profileSettings.stage ?? 'test',
      callbackPolicy: options.callbackPolicy ?? { allowLoopback: false },
    });
  const slots = profiles && profileSettings?.openTasks !== false ? new MemoryOpenTaskSlots({ tasks: store }) : undefined;
  const endings =
    slots || options.notices ? new TaskEndings({ slots, notices: options.notices, ...(options.logger && { logger: options.logger }) }) : undefined;
  const worker = new TaskWorker({ catalog, store, clock, ...(endings && { endings }), ...options.workerOptions });
  const consume = options.worker ?? true;
  const queue =
    options.queue ??
    (new RecordingQueue(
      consume === false ? undefined : consume === true ? (body) => worker.process(body) : (body) => consume(body, { worker, store }),
    ) as TaskQueue as Q);
  const sleep = (clock as Partial<FakeClock>).sleep;
  const tasks = new TaskService({
    store,
    queue,
    idempotency,
    taskTtlSeconds: options.taskTtlSeconds ?? TEST_TASK_TTL_SECONDS,
    clock,
    ...(sleep && { sleep }),
    ...(options.logger && { logger: options.logger }),
    ...(slots && profiles && { slots, openTaskLimit: (owner: string) => profiles.limitsOf(owner).openTasks }),
    ...(endings && { endings }),
    ...options.service,
  });
  return { tasks, worker, store, queue, idempotency, clock, catalog, profiles, slots, endings };
}

export interface TestAppOptions<S extends TaskStore, Q extends TaskQueue, I extends IdempotencyStore, C extends Clock>
  extends TestTasksOptions<S, Q, I, C> {
  /** Who can log in: the users of TEST_PASSWORDS by default. */
  readonly users?: UserDirectory;
  /** A TokenIssuer of TEST_TOKEN_SETTINGS by default. */
  readonly tokens?: TokenIssuer;
  /**
   * The login limits: `true` for the deployed ones over MemoryLoginAttempts, or the store and limits
   * to use. On the harness's clock. None by default.
   */
  readonly loginThrottle?: boolean | { readonly store?: LoginAttemptStore; readonly limits?: LoginLimits };
  readonly clientAddress?: AppDependencies['clientAddress'];
  readonly readiness?: readonly ReadinessProbe[];
}

/** A request as a user: `user` (alice by default) gets a fresh bearer token, unless null or an Authorization header is set. */
export type TestRequestInit = RequestInit & { readonly user?: string | null };

export interface TestApp<S extends TaskStore = MemoryTaskStore, Q extends TaskQueue = RecordingQueue, I extends IdempotencyStore = MemoryIdempotencyStore, C extends Clock = FakeClock> extends TestTasks<S, Q, I, C> {
  readonly app: Hono<AppEnv>;
  /** What the app was built from. */
  readonly deps: AppDependencies;
  readonly tokens: TokenIssuer;
  /** Present with `profiles`, unless `rates` is false. */
  readonly rates?: MemoryRequestRates;
  /** Another app over the same dependencies but `overrides` (a readiness probe, other tokens, a broken service...). */
  appWith(overrides: Partial<AppDependencies>): Hono<AppEnv>;
  /** A fresh token of `user` (alice by default). */
  tokenFor(user?: string): Promise<string>;
  /** `Bearer <a fresh token of user>`. */
  bearer(user?: string): Promise<string>;
  /** `app.request` as `init.user`; `env` is Hono's (e.g. API Gateway's request context). */
  request(path: string, init?: TestRequestInit, env?: unknown): Promise<Response>;
  /** POSTs `body` as JSON (a string is sent as it is) as `init.user`. */
  post(path: string, body: unknown, init?: TestRequestInit): Promise<Response>;
}

/** The HTTP app over the in-memory core: `createTestTasks` and what createApp needs beside it. */
export function createTestApp<S extends TaskStore = MemoryTaskStore, Q extends TaskQueue = RecordingQueue, I extends IdempotencyStore = MemoryIdempotencyStore, C extends Clock = FakeClock>(options: TestAppOptions<S, Q, I, C> = {}): TestApp<S, Q, I, C> {
  const core = createTestTasks(options);
  const tokens = options.tokens ?? new TokenIssuer(TEST_TOKEN_SETTINGS);
  const throttle = options.loginThrottle === true ? {} : options.loginThrottle || undefined;
  const rates = core.profiles && options.profiles?.rates !== false ? new MemoryRequestRates() : undefined;
  const deps: AppDependencies = {
    catalog: core.catalog,
    tasks: core.tasks,
    users: options.users ?? new UserDirectory(TEST_USER_RECORDS),
    tokens,
    ...(throttle && {
      loginThrottle: new LoginThrottle({ store: throttle.store ?? new MemoryLoginAttempts(), limits: throttle.limits, clock: core.clock }),
    }),
    ...(options.clientAddress && { clientAddress: options.clientAddress }),
    ...(options.readiness && { readiness: options.readiness }),
    ...(options.logger && { logger: options.logger }),
    ...(core.profiles && { profiles: core.profiles }),
    ...(rates && { rates }),
    ...(options.callbackPolicy && { callbackPolicy: options.callbackPolicy }),
  };
  const app = createApp(deps);
  const tokenFor = async (user = 'alice') => (await tokens.issue(user)).token;
  const request = async (path: string, { user = 'alice', ...init }: TestRequestInit = {}, env?: unknown) => {
    const headers = new Headers(init.headers);
    if (user !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${await tokenFor(user)}`);
    return app.request(path, { ...init, headers }, env);
  };
  return {
    ...core,
    app,
    deps,
    tokens,
    rates,
    appWith: (overrides) => createApp({ ...deps, ...overrides }),
    tokenFor,
    bearer: async (user) => `Bearer ${await tokenFor(user)}`,
    request,
    post: (path, body, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      return request(path, { ...init, method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    },
  };
}
