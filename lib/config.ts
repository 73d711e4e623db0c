// zod/mini: the same schemas at a fraction of the bundle size and import time (cold start).
import * as z from 'zod/mini';
import { isPasswordHash } from './auth/passwords.ts';
import { type BackoffSchedule, DEFAULT_BACKOFF } from './tasks/wait-policy.ts';

/**
 * Configuration, parsed once at cold start from the environment. A bad or missing setting fails
 * fast with every problem listed; the core receives the typed, frozen result and never reads
 * `process.env` itself.
 */

// `${env:X, ''}` in serverless.yml hands functions empty strings for unset values: treat them as unset.
const unsetIfEmpty = z.transform((value: unknown) => (value === '' ? undefined : value));
const optional = <T extends z.ZodMiniType>(schema: T) => z.pipe(unsetIfEmpty, z.optional(schema));
const withDefault = <T extends z.ZodMiniType<unknown, unknown>>(schema: T, fallback: z.input<T>) =>
  z.pipe(
    z.transform((value: unknown): unknown => (value === '' || value === undefined ? fallback : value)),
    schema,
  );

/** The stage of `npm start`, the only one that may run with the development settings below. */
export const LOCAL_STAGE = 'local';
/** Only for the local stage: long enough for HS256, and refused anywhere else. */
export const DEVELOPMENT_JWT_SECRET = 'doozer-local-development-secret-not-for-production';
/**
 * The local stack's user (`doozer` / `doozer`, printed by `npm start` and in the README). Its name
 * and password are public, so no other stage may have a user of that name.
 */
export const DEVELOPMENT_USERNAME = 'doozer';

const UserSchema = z.object({
  username: z.string().check(z.minLength(1)),
  passwordHash: z.string().check(z.refine(isPasswordHash, 'must be an scrypt hash made by `npm run hash-password`')),
});

const UsersSchema = z.pipe(
  z.transform((value: unknown, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.issues.push({ code: 'custom', message: 'must be a JSON array of {"username","passwordHash"}', input: value });
      return z.NEVER;
    }
  }),
  z.array(UserSchema).check(z.minLength(1, 'must list at least one user')),
);

const AwsSettings = {
  AWS_REGION: withDefault(z.string().check(z.minLength(1)), 'us-east-1'),
  DOOZER_TABLE_NAME: z.string().check(z.minLength(1)),
  /** Set only for emulators (the local stack, LocalStack); unset on AWS. */
  DOOZER_DYNAMODB_ENDPOINT: optional(z.url()),
};

const ApiEnvSchema = z.object({
  ...AwsSettings,
  // Required, with no default: the stage decides which safety checks apply, so a function that does
  // not know its stage must not start.
  DOOZER_STAGE: z.pipe(unsetIfEmpty, z.string({ error: 'must name the stage (local, dev, prod…)' }).check(z.minLength(1))),
  DOOZER_QUEUE_URL: z.url(),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  DOOZER_JWT_SECRET: z.string().check(z.minLength(32, 'must be at least 32 characters')),
  DOOZER_JWT_TTL_SECONDS: withDefault(z.coerce.number().check(z.int(), z.positive()), 3600),
  DOOZER_USERS: UsersSchema,
  // At least an hour: a shorter life would expire tasks while their callers still wait for them.
  DOOZER_TASK_TTL_DAYS: withDefault(z.coerce.number().check(z.gte(1 / 24, 'must be at least 1 hour (0.0417 days)')), 7),
  /** `true` serves POST /bench/floor, the benchmark's floor (`npm run bench`); only the local stage may. */
  // When the wait loop first reads the store, in ms (then the gap doubles up to 250 ms). 20 on AWS,
  // where the SQS -> Lambda hop alone takes ~13 ms or more (BENCHMARKS.md, "On AWS, by model"); the
  // local stage sets 5, its hop being a few ms.
  DOOZER_WAIT_FIRST_READ_MS: withDefault(z.coerce.number().check(z.int(), z.positive(), z.lte(1000)), 20),
  DOOZER_BENCH_FLOOR: optional(z.enum(['true', 'false'], { error: 'must be true or false' })),
}).check(
  z.superRefine(refuseDevelopmentSettings, {
    // Also when another setting was refused, so that one ConfigError lists every problem.
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  }),
);

const WorkerEnvSchema = z.object(AwsSettings);

const SweeperEnvSchema = z.object({
  ...AwsSettings,
  DOOZER_QUEUE_URL: z.url(),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  DOOZER_SWEEP_AFTER_SECONDS: withDefault(z.coerce.number().check(z.positive()), 300),
});

/**
 * Outside the local stage, refuses the settings everyone can read in this repository: the
 * development JWT secret (anyone could sign tokens) and the development user (anyone could log in);
 * and the benchmark's floor route, an unmetered way to make the api function compute.
 * It runs even when other settings failed, so the values are read defensively: a field that failed
 * may still hold its raw input.
 */
function refuseDevelopmentSettings(
  env: { DOOZER_STAGE: unknown; DOOZER_JWT_SECRET: unknown; DOOZER_USERS: unknown; DOOZER_BENCH_FLOOR?: unknown },
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  const stage = env.DOOZER_STAGE;
  if (stage === LOCAL_STAGE) return;
  if (env.DOOZER_JWT_SECRET === DEVELOPMENT_JWT_SECRET) {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_JWT_SECRET'],
      message:
        `is the development secret, which only the ${LOCAL_STAGE} stage may use ` +
        `(this is stage ${JSON.stringify(stage)}); set a secret of your own`,
    });
  }
  const users: unknown[] = Array.isArray(env.DOOZER_USERS) ? env.DOOZER_USERS : [];
  if (users.some((user) => (user as { username?: unknown } | null)?.username === DEVELOPMENT_USERNAME)) {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_USERS'],
      message:
        `lists the user ${JSON.stringify(DEVELOPMENT_USERNAME)}, the development user, whose password is public; ` +
        `only the ${LOCAL_STAGE} stage may have a user of that name (this is stage ${JSON.stringify(stage)})`,
    });
  }
  if (env.DOOZER_BENCH_FLOOR === 'true') {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_BENCH_FLOOR'],
      message: `turns on the benchmark's floor route, which only the ${LOCAL_STAGE} stage may serve (this is stage ${JSON.stringify(stage)})`,
    });
  }
}

export interface AwsConfig {
  readonly region: string;
  readonly tableName: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly sqsEndpoint: string | undefined;
}

export interface ApiConfig {
  readonly stage: string;
  readonly aws: AwsConfig;
  readonly queueUrl: string;
  readonly auth: {
    readonly secret: string;
    readonly issuer: string;
    readonly audience: string;
    readonly ttlSeconds: number;
    readonly users: readonly { readonly username: string; readonly passwordHash: string }[];
  };
  readonly taskTtlSeconds: number;
  /** When the wait loop reads the store while a request waits for its task. */
  readonly waitSchedule: BackoffSchedule;
  /** Serve POST /bench/floor (local stage only): see `benchFloor` in AppDependencies. */
  readonly benchFloor: boolean;
}

export interface WorkerConfig {
  readonly aws: AwsConfig;
}

export interface SweeperConfig {
  readonly aws: AwsConfig;
  readonly queueUrl: string;
  readonly staleAfterSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const e = parse(ApiEnvSchema, env);
  return deepFreeze({
    stage: e.DOOZER_STAGE,
    aws: awsConfig(e, e.DOOZER_SQS_ENDPOINT),
    queueUrl: e.DOOZER_QUEUE_URL,
    auth: {
      secret: e.DOOZER_JWT_SECRET,
      issuer: 'doozer',
      audience: 'doozer-api',
      ttlSeconds: e.DOOZER_JWT_TTL_SECONDS,
      users: e.DOOZER_USERS,
    },
    taskTtlSeconds: Math.round(e.DOOZER_TASK_TTL_DAYS * 86_400),
    waitSchedule: { ...DEFAULT_BACKOFF, initialDelayMs: e.DOOZER_WAIT_FIRST_READ_MS },
    benchFloor: e.DOOZER_BENCH_FLOOR === 'true',
  });
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const e = parse(WorkerEnvSchema, env);
  return deepFreeze({ aws: awsConfig(e, undefined) });
}

export function loadSweeperConfig(env: NodeJS.ProcessEnv): SweeperConfig {
  const e = parse(SweeperEnvSchema, env);
  return deepFreeze({
    aws: awsConfig(e, e.DOOZER_SQS_ENDPOINT),
    queueUrl: e.DOOZER_QUEUE_URL,
    staleAfterSeconds: e.DOOZER_SWEEP_AFTER_SECONDS,
  });
}

/** The AWS settings every function shares (the worker sends nothing to SQS: no SQS endpoint). */
function awsConfig(
  e: { AWS_REGION: string; DOOZER_TABLE_NAME: string; DOOZER_DYNAMODB_ENDPOINT?: string | undefined },
  sqsEndpoint: string | undefined,
): AwsConfig {
  return { region: e.AWS_REGION, tableName: e.DOOZER_TABLE_NAME, dynamodbEndpoint: e.DOOZER_DYNAMODB_ENDPOINT, sqsEndpoint };
}

function parse<T extends z.ZodMiniType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new ConfigError(`doozer is misconfigured:\n${problems.join('\n')}`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
