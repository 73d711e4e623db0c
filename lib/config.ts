import { z } from 'zod';
import { isPasswordHash } from './auth/passwords.ts';

/**
 * Configuration, parsed once at cold start from the environment. A bad or missing setting fails
 * fast with every problem listed; the core receives the typed, frozen result and never reads
 * `process.env` itself.
 */

// `${env:X, ''}` in serverless.yml hands functions empty strings for unset values: treat them as unset.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());
const withDefault = <T extends z.ZodType>(schema: T, fallback: z.input<T>) =>
  z.preprocess((value) => (value === '' || value === undefined ? fallback : value), schema);

const UserSchema = z.object({
  username: z.string().min(1),
  passwordHash: z.string().refine(isPasswordHash, 'must be an scrypt hash made by `npm run hash-password`'),
});

const UsersSchema = z.preprocess((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {"username","passwordHash"}' });
    return z.NEVER;
  }
}, z.array(UserSchema).min(1, 'must list at least one user'));

const AwsSettings = {
  AWS_REGION: withDefault(z.string().min(1), 'us-east-1'),
  DOOZER_TABLE_NAME: z.string().min(1),
  /** Set only for emulators (the local stack, LocalStack); unset on AWS. */
  DOOZER_DYNAMODB_ENDPOINT: optional(z.url()),
};

const ApiEnvSchema = z.object({
  ...AwsSettings,
  DOOZER_STAGE: withDefault(z.string().min(1), 'local'),
  DOOZER_QUEUE_URL: z.url(),
  DOOZER_SQS_ENDPOINT: optional(z.url()),
  DOOZER_JWT_SECRET: z.string().min(32, 'must be at least 32 characters'),
  DOOZER_JWT_TTL_SECONDS: withDefault(z.coerce.number().int().positive(), 3600),
  DOOZER_USERS: UsersSchema,
  // At least an hour: a shorter life would expire tasks while their callers still wait for them.
  DOOZER_TASK_TTL_DAYS: withDefault(z.coerce.number().min(1 / 24, 'must be at least 1 hour (0.0417 days)'), 7),
});

const WorkerEnvSchema = z.object(AwsSettings);

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
}

export interface WorkerConfig {
  readonly aws: AwsConfig;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const e = parse(ApiEnvSchema, env);
  return deepFreeze({
    stage: e.DOOZER_STAGE,
    aws: {
      region: e.AWS_REGION,
      tableName: e.DOOZER_TABLE_NAME,
      dynamodbEndpoint: e.DOOZER_DYNAMODB_ENDPOINT,
      sqsEndpoint: e.DOOZER_SQS_ENDPOINT,
    },
    queueUrl: e.DOOZER_QUEUE_URL,
    auth: {
      secret: e.DOOZER_JWT_SECRET,
      issuer: 'doozer',
      audience: 'doozer-api',
      ttlSeconds: e.DOOZER_JWT_TTL_SECONDS,
      users: e.DOOZER_USERS,
    },
    taskTtlSeconds: Math.round(e.DOOZER_TASK_TTL_DAYS * 86_400),
  });
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const e = parse(WorkerEnvSchema, env);
  return deepFreeze({
    aws: {
      region: e.AWS_REGION,
      tableName: e.DOOZER_TABLE_NAME,
      dynamodbEndpoint: e.DOOZER_DYNAMODB_ENDPOINT,
      sqsEndpoint: undefined,
    },
  });
}

function parse<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
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
