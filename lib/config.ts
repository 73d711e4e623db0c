// zod/mini: the same schemas at a fraction of the bundle size and import time (cold start).
import * as z from 'zod/mini';
import { isPasswordHash } from './auth/passwords.ts';
import { MAX_QUEUE_DELAY_SECONDS } from './tasks/ports.ts';
import type { RunLaterLimits } from './tasks/run-later.ts';
import { DEFAULT_USER_LIMITS, MAX_OPEN_TASK_LIMIT, type UserLimits } from './limits/user-limits.ts';
import { DEVELOPMENT_WEBHOOK_SECRET, isWebhookSecret } from './webhooks/secrets.ts';
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

/** A user's own limits, each overriding the deployment's default (DOOZER_RATE_LIMIT_PER_SECOND…). */
const UserLimitsSchema = z.strictObject({
  requestsPerSecond: z.optional(z.number().check(z.positive(), z.lte(10_000))),
  burst: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
  openTasks: z.optional(z.int().check(z.gte(1), z.lte(MAX_OPEN_TASK_LIMIT))),
});

const UserSchema = z.object({
  username: z.string().check(z.minLength(1)),
  passwordHash: z.string().check(z.refine(isPasswordHash, 'must be an scrypt hash made by `npm run hash-password`')),
  /** Signs the user's completion webhooks (Standard Webhooks); without one, the user cannot ask for them outside the local stage. */
  webhookSecret: z.optional(z.string().check(z.refine(isWebhookSecret, 'must be whsec_ and base64 of 24 to 64 random bytes'))),
  /** Where the user's tasks are POSTed when they end, unless a task names its own. */
  callbackUrl: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  limits: z.optional(UserLimitsSchema),
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
  z
    .array(UserSchema, { error: (issue) => (issue.input === undefined ? 'is missing' : 'must be a JSON array of {"username","passwordHash"}') })
    .check(z.minLength(1, 'must list at least one user')),
);

const AwsSettings = {
  AWS_REGION: withDefault(z.string().check(z.minLength(1)), 'us-east-1'),
  DOOZER_TABLE_NAME: z.string().check(z.minLength(1)),
  /** Set only for emulators (the local stack, LocalStack); unset on AWS. */
  DOOZER_DYNAMODB_ENDPOINT: optional(z.url()),
};

/** The settings that name the SSM parameters holding the API's secrets outside the local stage. */
const PARAMETER_OF = { DOOZER_JWT_SECRET: 'DOOZER_JWT_SECRET_PARAMETER', DOOZER_USERS: 'DOOZER_USERS_PARAMETER' } as const;
type SecretSetting = keyof typeof PARAMETER_OF;
const SECRET_SETTINGS = Object.keys(PARAMETER_OF) as SecretSetting[];
const WHAT_IT_HOLDS: Record<SecretSetting, string> = {
  DOOZER_JWT_SECRET: 'the JWT secret',
  DOOZER_USERS: 'the users (a JSON array of {"username","passwordHash"})',
};

// An SSM parameter name (or ARN), up to 2048 characters; SSM itself says which names do not exist.
const ParameterName = z.string().check(z.minLength(1), z.maxLength(2048));

/** Every user's limits unless their own entry in the users says otherwise (UserLimitsSchema). */
const LimitSettings = {
  DOOZER_RATE_LIMIT_PER_SECOND: withDefault(z.coerce.number().check(z.positive(), z.lte(10_000)), DEFAULT_USER_LIMITS.requestsPerSecond),
  DOOZER_RATE_LIMIT_BURST: withDefault(z.coerce.number().check(z.int(), z.gte(1), z.lte(100_000)), DEFAULT_USER_LIMITS.burst),
  DOOZER_OPEN_TASK_LIMIT: withDefault(z.coerce.number().check(z.int(), z.gte(1), z.lte(MAX_OPEN_TASK_LIMIT)), DEFAULT_USER_LIMITS.openTasks),
};

const ApiEnvSchema = z.object({
  ...AwsSettings,
  // Required, with no default: the stage decides which safety checks apply, so a function that does
  // not know its stage must not start.
  DOOZER_STAGE: z.pipe(unsetIfEmpty, z.string({ error: 'must name the stage (local, dev, prod…)' }).check(z.minLength(1))),
  DOOZER_QUEUE_URL: z.url(),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  // The secrets themselves are checked by ApiSecretsSchema, wherever they come from (the environment
  // on the local stage, SSM elsewhere); here only which source the stage allows (checkSecretSources).
  DOOZER_JWT_SECRET: optional(z.string()),
  DOOZER_USERS: optional(z.string()),
  DOOZER_JWT_SECRET_PARAMETER: optional(ParameterName),
  DOOZER_USERS_PARAMETER: optional(ParameterName),
  DOOZER_JWT_TTL_SECONDS: withDefault(z.coerce.number().check(z.int(), z.positive()), 3600),
  // At least an hour: a shorter life would expire tasks while their callers still wait for them.
  DOOZER_TASK_TTL_DAYS: withDefault(z.coerce.number().check(z.gte(1 / 24, 'must be at least 1 hour (0.0417 days)')), 7),
  /** `true` serves POST /bench/floor, the benchmark's floor (`npm run bench`); only the local stage may. */
  // When the wait loop first reads the store, in ms (then the gap doubles up to 250 ms). 20 on AWS,
  // where the SQS -> Lambda hop alone takes ~13 ms or more (BENCHMARKS.md, "On AWS, by model"); the
  // local stage sets 5, its hop being a few ms.
  DOOZER_WAIT_FIRST_READ_MS: withDefault(z.coerce.number().check(z.int(), z.positive(), z.lte(1000)), DEFAULT_BACKOFF.initialDelayMs),
  DOOZER_BENCH_FLOOR: optional(z.enum(['true', 'false'], { error: 'must be true or false' })),
  // A task to run later than this (seconds) waits in the store as SCHEDULED; sooner, its message is
  // sent with SQS's own delay, whose limit (900) is the default. Tests shorten it.
  DOOZER_MAX_QUEUE_DELAY_SECONDS: withDefault(z.coerce.number().check(z.int(), z.gte(0), z.lte(MAX_QUEUE_DELAY_SECONDS)), MAX_QUEUE_DELAY_SECONDS),
  ...LimitSettings,
  // The notifier's queue: a cancelled task with a callbackUrl is handed to it. Unset, the sweeper
  // finds such deliveries in the webhook index instead (within RESEND_AFTER_SECONDS).
  DOOZER_WEBHOOK_QUEUE_URL: optional(z.url()),
}).check(
  z.superRefine(checkStageRules, {
    // Also when another setting was refused, so that one ConfigError lists every problem.
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  }),
);

const mustBeSet = (issue: { input: unknown }) => (issue.input === undefined ? 'is missing' : 'must be a string');

/**
 * The API's secrets, checked alike whether the local stage's environment or an SSM parameter gave
 * them. A plain object: `stage` decides whether the development settings are allowed.
 */
const ApiSecretsSchema = z.object({
  stage: z.string(),
  DOOZER_JWT_SECRET: z.string({ error: mustBeSet }).check(z.minLength(32, 'must be at least 32 characters')),
  DOOZER_USERS: UsersSchema,
}).check(
  z.superRefine(refuseDevelopmentSecrets, {
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  }),
);

const WorkerEnvSchema = z.object({
  ...AwsSettings,
  /** The task queue and its visibility timeout, for the heartbeat of long tasks; the dead-letter function needs neither. */
  DOOZER_QUEUE_URL: optional(z.url()),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  DOOZER_VISIBILITY_TIMEOUT_SECONDS: optional(z.coerce.number().check(z.int(), z.positive(), z.lte(43_200))),
  // The notifier's queue, told of each task that ends with a callbackUrl.
  DOOZER_WEBHOOK_QUEUE_URL: optional(z.url()),
});

const SweeperEnvSchema = z.object({
  ...AwsSettings,
  DOOZER_QUEUE_URL: z.url(),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  DOOZER_SWEEP_AFTER_SECONDS: withDefault(z.coerce.number().check(z.positive()), 300),
  // SCHEDULED tasks due within this many seconds are queued (with the queue's delay up to their time).
  DOOZER_SCHEDULE_AHEAD_SECONDS: withDefault(z.coerce.number().check(z.int(), z.positive(), z.lte(MAX_QUEUE_DELAY_SECONDS)), 120),
  // The notifier's queue: webhook deliveries whose message was lost, or that wait longer than a queue delay, are sent to it.
  DOOZER_WEBHOOK_QUEUE_URL: optional(z.url()),
});

/** Seconds between webhook attempts, `5,300,1800`: at most 20 waits of at most a day each. */
const RetrySchedule = z.pipe(
  z.string(),
  z.transform((value, ctx) => {
    const waits = value.split(',').map((part) => Number(part.trim()));
    if (waits.length > 20 || waits.some((wait) => !Number.isInteger(wait) || wait < 1 || wait > 86_400)) {
      ctx.issues.push({ code: 'custom', message: 'must be up to 20 whole seconds (1 to 86400) separated by commas, e.g. 5,300,1800', input: value });
      return z.NEVER;
    }
    return waits;
  }),
);

const NotifierEnvSchema = z.object({
  ...AwsSettings,
  DOOZER_STAGE: z.pipe(unsetIfEmpty, z.string({ error: 'must name the stage (local, dev, prod…)' }).check(z.minLength(1))),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  DOOZER_WEBHOOK_QUEUE_URL: z.url(),
  DOOZER_WEBHOOK_DEAD_LETTER_QUEUE_URL: z.url(),
  // The users (for their webhook secrets): the environment on the local stage, SSM elsewhere.
  DOOZER_USERS: optional(z.string()),
  DOOZER_USERS_PARAMETER: optional(ParameterName),
  DOOZER_WEBHOOK_RETRY_SECONDS: optional(RetrySchedule),
});

type RawSettings = Partial<Record<string, unknown>>;

const isSet = (value: unknown) => value !== undefined && value !== '';

/**
 * The rules that depend on the stage, for the settings themselves (the secrets' values are checked by
 * ApiSecretsSchema). The local stage takes its secrets from the environment and names no SSM
 * parameter (it makes no SSM call). Every other stage reads them from SSM SecureString parameters and
 * refuses them in the environment: anyone allowed `lambda:GetFunctionConfiguration` can read a
 * function's environment, while a SecureString also needs `ssm:GetParameters` and `kms:Decrypt`.
 * Outside the local stage the benchmark's floor route, an unmetered way to make the api function
 * compute, is refused too. It runs even when other settings failed, so values are read defensively.
 */
function checkStageRules(env: RawSettings, ctx: z.core.$RefinementCtx<unknown>): void {
  const stage = env.DOOZER_STAGE;
  // Without a stage there is no telling where the secrets belong; the missing stage is reported.
  if (typeof stage !== 'string' || stage === '') return;
  const thisStage = `this is stage ${JSON.stringify(stage)}`;
  for (const setting of SECRET_SETTINGS) {
    const parameter = PARAMETER_OF[setting];
    if (stage === LOCAL_STAGE) {
      if (isSet(env[parameter])) {
        ctx.addIssue({
          code: 'custom',
          path: [parameter],
          message: `is read only outside the ${LOCAL_STAGE} stage, which takes ${setting} from the environment and makes no SSM call`,
        });
      }
      continue;
    }
    if (isSet(env[setting])) {
      ctx.addIssue({
        code: 'custom',
        path: [setting],
        message:
          `must not be set outside the ${LOCAL_STAGE} stage (${thisStage}): anyone allowed lambda:GetFunctionConfiguration ` +
          `can read a function's environment. Put ${WHAT_IT_HOLDS[setting]} in an SSM SecureString parameter and name it in ${parameter}`,
      });
    }
    if (!isSet(env[parameter])) {
      ctx.addIssue({
        code: 'custom',
        path: [parameter],
        message: `must name the SSM SecureString parameter that holds ${WHAT_IT_HOLDS[setting]} (required outside the ${LOCAL_STAGE} stage; ${thisStage})`,
      });
    }
  }
  if (stage !== LOCAL_STAGE && env.DOOZER_BENCH_FLOOR === 'true') {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_BENCH_FLOOR'],
      message: `turns on the benchmark's floor route, which only the ${LOCAL_STAGE} stage may serve (${thisStage})`,
    });
  }
}

/**
 * Outside the local stage, refuses the secrets everyone can read in this repository, wherever they
 * came from: the development JWT secret (anyone could sign tokens) and the development user (anyone
 * could log in). It runs even when the other secret failed, so the values are read defensively.
 */
function refuseDevelopmentSecrets(secrets: RawSettings, ctx: z.core.$RefinementCtx<unknown>): void {
  const stage = secrets.stage;
  if (stage === LOCAL_STAGE) return;
  if (secrets.DOOZER_JWT_SECRET === DEVELOPMENT_JWT_SECRET) {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_JWT_SECRET'],
      message:
        `is the development secret, which only the ${LOCAL_STAGE} stage may use ` +
        `(this is stage ${JSON.stringify(stage)}); set a secret of your own`,
    });
  }
  const users: unknown[] = Array.isArray(secrets.DOOZER_USERS) ? secrets.DOOZER_USERS : [];
  const withDevelopmentSecret = users.filter((user) => (user as { webhookSecret?: unknown } | null)?.webhookSecret === DEVELOPMENT_WEBHOOK_SECRET);
  if (withDevelopmentSecret.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_USERS'],
      message:
        `gives ${withDevelopmentSecret.map((user) => JSON.stringify((user as { username?: unknown }).username)).join(', ')} the development webhook secret, ` +
        `which is public; only the ${LOCAL_STAGE} stage may use it (this is stage ${JSON.stringify(stage)}): make one with \`openssl rand -base64 32\` and prefix it with whsec_`,
    });
  }
  if (users.some((user) => (user as { username?: unknown } | null)?.username === DEVELOPMENT_USERNAME)) {
    ctx.addIssue({
      code: 'custom',
      path: ['DOOZER_USERS'],
      message:
        `lists the user ${JSON.stringify(DEVELOPMENT_USERNAME)}, the development user, whose password is public; ` +
        `only the ${LOCAL_STAGE} stage may have a user of that name (this is stage ${JSON.stringify(stage)})`,
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
    readonly users: readonly {
      readonly username: string;
      readonly passwordHash: string;
      readonly webhookSecret?: string;
      readonly callbackUrl?: string;
      readonly limits?: Partial<UserLimits>;
    }[];
  };
  readonly taskTtlSeconds: number;
  /** How far ahead a task may be set to run (a task's life), and from when it waits as SCHEDULED. */
  readonly runLater: RunLaterLimits;
  /** When the wait loop reads the store while a request waits for its task. */
  readonly waitSchedule: BackoffSchedule;
  /** Serve POST /bench/floor (local stage only): see `benchFloor` in AppDependencies. */
  readonly benchFloor: boolean;
  /** Every user's limits, where their own entry sets none. */
  readonly defaultLimits: UserLimits;
  readonly webhooks: {
    /** The local stage's: callbacks may go to loopback over http, and users without a secret get the development one. */
    readonly allowLoopback: boolean;
    readonly queueUrl: string | undefined;
  };
}

/** A user of the API, from DOOZER_USERS (or its SSM parameter). */
export type UserEntry = ApiConfig['auth']['users'][number];

export interface WorkerConfig {
  readonly aws: AwsConfig;
  /** The task queue, when the function holds its messages' leases (the worker; not the dead-letter function). */
  readonly queue?: { readonly url: string; readonly visibilityTimeoutSeconds: number };
  /** The notifier's queue, for tasks that end with a callbackUrl. */
  readonly webhookQueueUrl?: string;
}

export interface SweeperConfig {
  readonly aws: AwsConfig;
  readonly queueUrl: string;
  readonly staleAfterSeconds: number;
  readonly scheduleAheadSeconds: number;
  readonly webhookQueueUrl?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The API's secrets as read from their SSM parameters, outside the local stage. */
export interface ApiSecretValues {
  readonly jwtSecret: string | undefined;
  readonly users: string | undefined;
}

/** The names of the SSM parameters that hold the API's secrets. */
export interface ApiSecretParameters {
  readonly jwtSecret: string;
  readonly users: string;
}

/**
 * Which SSM parameters hold the API's secrets on this stage: undefined on the local stage, whose
 * secrets are in the environment. Throws a ConfigError listing every problem with the environment, so
 * a misconfigured function fails before it makes any call.
 */
export function apiSecretParameters(env: NodeJS.ProcessEnv): ApiSecretParameters | undefined {
  const e = parse(ApiEnvSchema, env);
  if (e.DOOZER_STAGE === LOCAL_STAGE) return undefined;
  // Set: the stage rules require both outside the local stage.
  return { jwtSecret: e.DOOZER_JWT_SECRET_PARAMETER!, users: e.DOOZER_USERS_PARAMETER! };
}

/**
 * The API's configuration. On the local stage the secrets are DOOZER_JWT_SECRET and DOOZER_USERS;
 * on any other stage they are `fromParameters`, the values of the SSM parameters named by
 * DOOZER_JWT_SECRET_PARAMETER and DOOZER_USERS_PARAMETER (`loadApiSettings` in
 * lib/aws/ssm-secrets.ts reads them). Pure: the same checks apply to the secrets wherever they come
 * from, and one ConfigError lists every problem, naming the setting or parameter but never a value.
 */
export function loadApiConfig(env: NodeJS.ProcessEnv, fromParameters?: ApiSecretValues): ApiConfig {
  const settings = ApiEnvSchema.safeParse(env);
  const problems = settings.success ? [] : describeIssues(settings.error.issues);
  const secrets = parseSecrets(env, fromParameters, problems);
  if (!settings.success || !secrets || problems.length > 0) throw misconfigured(problems);
  const e = settings.data;
  return deepFreeze({
    stage: e.DOOZER_STAGE,
    aws: awsConfig(e, e.DOOZER_SQS_ENDPOINT),
    queueUrl: e.DOOZER_QUEUE_URL,
    auth: {
      secret: secrets.DOOZER_JWT_SECRET,
      issuer: 'doozer',
      audience: 'doozer-api',
      ttlSeconds: e.DOOZER_JWT_TTL_SECONDS,
      users: secrets.DOOZER_USERS,
    },
    taskTtlSeconds: Math.round(e.DOOZER_TASK_TTL_DAYS * 86_400),
    runLater: { maxAheadSeconds: Math.round(e.DOOZER_TASK_TTL_DAYS * 86_400), maxQueueDelaySeconds: e.DOOZER_MAX_QUEUE_DELAY_SECONDS },
    // A first read later than the cap raises the cap with it (a schedule's gaps never shrink).
    waitSchedule: {
      ...DEFAULT_BACKOFF,
      initialDelayMs: e.DOOZER_WAIT_FIRST_READ_MS,
      maxDelayMs: Math.max(DEFAULT_BACKOFF.maxDelayMs, e.DOOZER_WAIT_FIRST_READ_MS),
    },
    benchFloor: e.DOOZER_BENCH_FLOOR === 'true',
    defaultLimits: limitDefaults(e),
    webhooks: { allowLoopback: e.DOOZER_STAGE === LOCAL_STAGE, queueUrl: e.DOOZER_WEBHOOK_QUEUE_URL },
  });
}

function limitDefaults(e: { DOOZER_RATE_LIMIT_PER_SECOND: number; DOOZER_RATE_LIMIT_BURST: number; DOOZER_OPEN_TASK_LIMIT: number }): UserLimits {
  return { requestsPerSecond: e.DOOZER_RATE_LIMIT_PER_SECOND, burst: e.DOOZER_RATE_LIMIT_BURST, openTasks: e.DOOZER_OPEN_TASK_LIMIT };
}

/**
 * A user's webhook secret: their own, or on the local stage the development one (DEVELOPMENT_WEBHOOK_SECRET,
 * public, for trying webhooks out); undefined for a user without one elsewhere.
 */
export function webhookSecretOf(user: Pick<UserEntry, 'webhookSecret'> | undefined, stage: string): string | undefined {
  return user?.webhookSecret ?? (stage === LOCAL_STAGE ? DEVELOPMENT_WEBHOOK_SECRET : undefined);
}

/**
 * The secrets from where this stage keeps them, checked; undefined (with the problems added) when
 * they are wrong or there is no telling where they are (no stage, or an SSM parameter not named:
 * both already reported by the environment's schema).
 */
function parseSecrets(
  env: NodeJS.ProcessEnv,
  fromParameters: ApiSecretValues | undefined,
  problems: string[],
): z.output<typeof ApiSecretsSchema> | undefined {
  const stage = env.DOOZER_STAGE;
  if (!stage) return undefined;
  const local = stage === LOCAL_STAGE;
  if (!local && SECRET_SETTINGS.some((setting) => !isSet(env[PARAMETER_OF[setting]]))) return undefined;
  const unsetIfEmpty = (value: string | undefined) => (value === '' ? undefined : value);
  const result = ApiSecretsSchema.safeParse({
    stage,
    DOOZER_JWT_SECRET: unsetIfEmpty(local ? env.DOOZER_JWT_SECRET : fromParameters?.jwtSecret),
    DOOZER_USERS: unsetIfEmpty(local ? env.DOOZER_USERS : fromParameters?.users),
  });
  if (result.success) return result.data;
  const source = (setting: string): string => {
    const parameter = PARAMETER_OF[setting as SecretSetting];
    return local || !parameter ? setting : `SSM parameter ${env[parameter]} (${parameter})`;
  };
  problems.push(...describeIssues(result.error.issues, source));
  return undefined;
}

export interface NotifierConfig {
  readonly stage: string;
  readonly aws: AwsConfig;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Each user's webhook secret (webhookSecretOf), as read at cold start. */
  readonly secrets: ReadonlyMap<string, string>;
  /** Outside the local stage, the SSM parameter the users are read (and read again) from. */
  readonly usersParameter?: string;
  /** Seconds before each retry; undefined for the default schedule. */
  readonly retrySchedule: readonly number[] | undefined;
  /** The local stage's: deliveries may go to loopback over http. */
  readonly allowLoopback: boolean;
}

/** The SSM parameter holding the users, outside the local stage (the notifier reads their webhook secrets). */
export function notifierUsersParameter(env: NodeJS.ProcessEnv): string | undefined {
  const e = parse(NotifierEnvSchema, env);
  if (e.DOOZER_STAGE === LOCAL_STAGE) return undefined;
  if (!e.DOOZER_USERS_PARAMETER) throw misconfigured([`  DOOZER_USERS_PARAMETER: must name the SSM SecureString parameter that holds the users (required outside the ${LOCAL_STAGE} stage)`]);
  return e.DOOZER_USERS_PARAMETER;
}

/**
 * The notifier's configuration: `users` is the users' JSON from the SSM parameter outside the local
 * stage (lib/aws/ssm-secrets.ts reads it); on the local stage DOOZER_USERS. Only the webhook secrets
 * are kept; the users are checked as the API checks them.
 */
export function loadNotifierConfig(env: NodeJS.ProcessEnv, usersFromParameter?: string): NotifierConfig {
  const e = parse(NotifierEnvSchema, env);
  const local = e.DOOZER_STAGE === LOCAL_STAGE;
  const source = local ? 'DOOZER_USERS' : `SSM parameter ${e.DOOZER_USERS_PARAMETER} (DOOZER_USERS_PARAMETER)`;
  return deepFreeze({
    stage: e.DOOZER_STAGE,
    aws: awsConfig(e, e.DOOZER_SQS_ENDPOINT),
    queueUrl: e.DOOZER_WEBHOOK_QUEUE_URL,
    deadLetterQueueUrl: e.DOOZER_WEBHOOK_DEAD_LETTER_QUEUE_URL,
    secrets: webhookSecretsOf(local ? e.DOOZER_USERS : usersFromParameter, e.DOOZER_STAGE, source),
    ...(!local && { usersParameter: e.DOOZER_USERS_PARAMETER }),
    retrySchedule: e.DOOZER_WEBHOOK_RETRY_SECONDS,
    allowLoopback: local,
  });
}

/**
 * Each user's webhook secret from the users' JSON (`source` names where it came from in a
 * ConfigError), checked as the API checks the users: outside the local stage the development secret
 * is refused. The notifier calls it at cold start and again when it reloads the users.
 */
export function webhookSecretsOf(usersJson: string | undefined, stage: string, source: string): ReadonlyMap<string, string> {
  const users = ApiSecretsSchema.safeParse({ stage, DOOZER_JWT_SECRET: 'unused by the notifier, long enough for the check', DOOZER_USERS: usersJson });
  if (!users.success) throw misconfigured(describeIssues(users.error.issues.filter((issue) => issue.path[0] === 'DOOZER_USERS'), () => source));
  const secrets = new Map<string, string>();
  for (const user of users.data.DOOZER_USERS) {
    const secret = webhookSecretOf(user, stage);
    if (secret !== undefined) secrets.set(user.username, secret);
  }
  return secrets;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const e = parse(WorkerEnvSchema, env);
  const queue =
    e.DOOZER_QUEUE_URL && e.DOOZER_VISIBILITY_TIMEOUT_SECONDS
      ? { url: e.DOOZER_QUEUE_URL, visibilityTimeoutSeconds: e.DOOZER_VISIBILITY_TIMEOUT_SECONDS }
      : undefined;
  return deepFreeze({
    aws: awsConfig(e, e.DOOZER_SQS_ENDPOINT),
    ...(queue && { queue }),
    ...(e.DOOZER_WEBHOOK_QUEUE_URL && { webhookQueueUrl: e.DOOZER_WEBHOOK_QUEUE_URL }),
  });
}

export function loadSweeperConfig(env: NodeJS.ProcessEnv): SweeperConfig {
  const e = parse(SweeperEnvSchema, env);
  return deepFreeze({
    aws: awsConfig(e, e.DOOZER_SQS_ENDPOINT),
    queueUrl: e.DOOZER_QUEUE_URL,
    staleAfterSeconds: e.DOOZER_SWEEP_AFTER_SECONDS,
    scheduleAheadSeconds: e.DOOZER_SCHEDULE_AHEAD_SECONDS,
    ...(e.DOOZER_WEBHOOK_QUEUE_URL && { webhookQueueUrl: e.DOOZER_WEBHOOK_QUEUE_URL }),
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
  throw misconfigured(describeIssues(result.error.issues));
}

/** One line per issue, `  SETTING.path: message`; `source` renames the setting a value came from. */
function describeIssues(issues: readonly z.core.$ZodIssue[], source = (setting: string) => setting): string[] {
  return issues.map((issue) => {
    const [setting, ...rest] = issue.path.map(String);
    const where = setting === undefined ? '(environment)' : [source(setting), ...rest].join('.');
    return `  ${where}: ${issue.message}`;
  });
}

function misconfigured(problems: readonly string[]): ConfigError {
  return new ConfigError(`doozer is misconfigured:\n${problems.join('\n')}`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
