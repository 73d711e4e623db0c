// zod/mini: the same schemas at a fraction of the bundle size and import time (cold start).
import * as z from 'zod/mini';
import type { UserLimits } from './limits/user-limits.ts';
import { MAX_QUEUE_DELAY_SECONDS } from './ports.ts';
import type { RunLaterLimits } from './tasks/run-later.ts';
import { type BackoffSchedule, DEFAULT_BACKOFF } from './tasks/wait-policy.ts';
import { deepFreeze, describeIssues, misconfigured, optional, parse, unsetIfEmpty, withDefault } from './config/env-schema.ts';
import { type ApiSecretValues, LOCAL_STAGE, ParameterName, checkStageRules, parseSecrets, webhookSecretsOf } from './config/stage-rules.ts';
import { LimitSettings, limitDefaults } from './config/users.ts';

/**
 * Configuration, parsed once at cold start from the environment. A bad or missing setting fails
 * fast with every problem listed; the core receives the typed, frozen result and never reads
 * `process.env` itself. Each function's settings and its load*Config are here; how settings are
 * parsed and reported is lib/config/env-schema.ts, the users and their limits lib/config/users.ts,
 * and what depends on the stage (secrets in SSM, the development settings) lib/config/stage-rules.ts.
 */

export { ConfigError } from './config/env-schema.ts';
export { type ApiSecretValues, DEVELOPMENT_JWT_SECRET, LOCAL_STAGE, webhookSecretOf, webhookSecretsOf } from './config/stage-rules.ts';
export { DEVELOPMENT_USERNAME } from './config/users.ts';

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
  // The secrets themselves are checked by ApiSecretsSchema, wherever they come from (the environment
  // on the local stage, SSM elsewhere); here only which source the stage allows (checkStageRules).
  DOOZER_JWT_SECRET: optional(z.string()),
  DOOZER_USERS: optional(z.string()),
  DOOZER_JWT_SECRET_PARAMETER: optional(ParameterName),
  DOOZER_USERS_PARAMETER: optional(ParameterName),
  DOOZER_JWT_TTL_SECONDS: withDefault(z.coerce.number().check(z.int(), z.positive()), 3600),
  // At least an hour: a shorter life would expire tasks while their callers still wait for them.
  DOOZER_TASK_TTL_DAYS: withDefault(z.coerce.number().check(z.gte(1 / 24, 'must be at least 1 hour (0.0417 days)')), 7),
  // When the wait loop first reads the store, in ms (then the gap doubles up to 250 ms). 20 on AWS,
  // where the SQS -> Lambda hop alone takes ~13 ms or more (BENCHMARKS.md, "On AWS, by model"); the
  // local stage sets 5, its hop being a few ms.
  DOOZER_WAIT_FIRST_READ_MS: withDefault(z.coerce.number().check(z.int(), z.positive(), z.lte(1000)), DEFAULT_BACKOFF.initialDelayMs),
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
    defaultLimits: limitDefaults(e),
    webhooks: { allowLoopback: e.DOOZER_STAGE === LOCAL_STAGE, queueUrl: e.DOOZER_WEBHOOK_QUEUE_URL },
  });
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
