import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEVELOPMENT_JWT_SECRET } from '../lib/config.ts';
import { MAX_OPEN_TASK_LIMIT } from '../lib/limits/user-limits.ts';
import { TaskCatalog } from '../lib/tasks/task-catalog.ts';
import { TASKS } from '../tasks/index.ts';

/**
 * Settings of the local stack (`npm start`, `npm run workers`), from the environment with defaults
 * that need no set-up. Every process of the stack parses them the same way, so they agree on ports.
 */
export const SERVICE = 'doozer';
export const STAGE = 'local';
export const REGION = 'us-east-1';
/** Emulators accept any credentials; the SDK still wants some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export const RESOURCE_NAMES = {
  table: `${SERVICE}-${STAGE}-tasks`,
  queue: `${SERVICE}-${STAGE}-tasks`,
  deadLetterQueue: `${SERVICE}-${STAGE}-dead-letters`,
  workerFunction: `${SERVICE}-${STAGE}-worker`,
  deadLetterFunction: `${SERVICE}-${STAGE}-deadLetter`,
  sweeperFunction: `${SERVICE}-${STAGE}-sweeper`,
  webhookQueue: `${SERVICE}-${STAGE}-webhooks`,
  webhookDeadLetterQueue: `${SERVICE}-${STAGE}-webhook-dead-letters`,
  notifierFunction: `${SERVICE}-${STAGE}-notifier`,
} as const;

/** What the tasks' limits ask of the queue, as serverless.yml derives it for AWS (infra/task-limits.cjs). */
export const QUEUE_SETTINGS = new TaskCatalog(TASKS).queueSettings();

const port = (fallback: number) => z.coerce.number().int().min(1).max(65_535).default(fallback);

const LocalSettingsSchema = z.object({
  DOOZER_API_PORT: port(3000),
  DOOZER_LAMBDA_PORT: port(3002),
  DOOZER_SQS_PORT: port(9324),
  DOOZER_DYNAMODB_PORT: port(8000),
  /** Use an SQS / DynamoDB that is already running (LocalStack: http://127.0.0.1:4566) instead of the embedded ones. */
  DOOZER_SQS_ENDPOINT: z.url().optional(),
  DOOZER_DYNAMODB_ENDPOINT: z.url().optional(),
  DOOZER_DEV_USERNAME: z.string().min(1).default('doozer'),
  DOOZER_DEV_PASSWORD: z.string().min(1).default('doozer'),
  /**
   * More local users beside the development one, `name:password` separated by commas: to try what
   * one user sees of another's tasks (nothing). Local only; AWS stages read DOOZER_USERS from SSM.
   */
  DOOZER_LOCAL_USERS: z
    .string()
    .default('')
    .transform((value, ctx) =>
      value
        .split(',')
        .filter((entry) => entry.trim() !== '')
        .map((entry) => {
          const [username = '', ...rest] = entry.split(':');
          const password = rest.join(':');
          const shown = JSON.stringify(entry.slice(0, 40));
          if (!rest.length || password === '') {
            ctx.addIssue({ code: 'custom', message: `each user must be name:password, with a password (got ${shown})` });
          } else if (!/^[\w.@-]{1,64}$/.test(username.trim())) {
            ctx.addIssue({
              code: 'custom',
              message: `a user name is 1 to 64 letters, digits, '.', '@', '_' or '-' (got ${JSON.stringify(username.slice(0, 40))})`,
            });
          }
          return { username: username.trim(), password };
        }),
    ),  /**
   * Limits of some local users, overriding the defaults (DOOZER_RATE_LIMIT_PER_SECOND…), as a JSON
   * object by user name: `{"alice":{"requestsPerSecond":1,"burst":5,"openTasks":3}}`. On AWS each
   * user's entry in the users parameter says the same.
   */
  DOOZER_LOCAL_USER_LIMITS: z
    .string()
    .default('{}')
    .transform((value, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of user name -> {"requestsPerSecond","burst","openTasks"}' });
        return z.NEVER;
      }
    })
    .pipe(
      z.record(
        z.string(),
        z.strictObject({
          requestsPerSecond: z.number().positive().max(10_000).optional(),
          burst: z.number().int().min(1).max(100_000).optional(),
          openTasks: z.number().int().min(1).max(MAX_OPEN_TASK_LIMIT).optional(),
        }),
      ),
    ),
  DOOZER_JWT_SECRET: z.string().min(32).default(DEVELOPMENT_JWT_SECRET),
  /** Where the embedded DynamoDB keeps its tables across restarts (git-ignored). */
  DOOZER_DATA_DIR: z.string().min(1).default(fileURLToPath(new URL('../.doozer', import.meta.url))),
  /** The task queue's visibility timeout: as on AWS, from the tasks' limits; tests shorten it. */
  DOOZER_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(43_200).default(QUEUE_SETTINGS.visibilityTimeoutSeconds),
});

export interface LocalSettings {
  readonly host: '127.0.0.1';
  readonly apiPort: number;
  readonly lambdaPort: number;
  readonly sqsPort: number;
  readonly dynamodbPort: number;
  readonly devUser: { readonly username: string; readonly password: string };
  /** DOOZER_LOCAL_USERS: more users of the local stack. */
  readonly localUsers: readonly { readonly username: string; readonly password: string }[];
  /** DOOZER_LOCAL_USER_LIMITS: users' own limits, by user name. */
  readonly userLimits: Readonly<Record<string, { readonly requestsPerSecond?: number; readonly burst?: number; readonly openTasks?: number }>>;
  readonly jwtSecret: string;
  readonly visibilityTimeoutSeconds: number;
  /** The embedded DynamoDB's tables live in `<dataDir>/dynamodb`. */
  readonly dataDir: string;
  readonly apiUrl: string;
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** Start the embedded emulator (fauxqs / dynalite), or use an endpoint that is already running. */
  readonly embedded: { readonly sqs: boolean; readonly dynamodb: boolean };
  readonly lambdaEndpoint: string;
}

export function loadLocalSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const parsed = LocalSettingsSchema.check(
    z.superRefine(({ DOOZER_DEV_USERNAME, DOOZER_LOCAL_USERS, DOOZER_LOCAL_USER_LIMITS }, ctx) => {
      const users = new Set([DOOZER_DEV_USERNAME, ...DOOZER_LOCAL_USERS.map((user) => user.username)]);
      for (const username of Object.keys(DOOZER_LOCAL_USER_LIMITS)) {
        if (!users.has(username)) {
          ctx.addIssue({
            code: 'custom',
            path: ['DOOZER_LOCAL_USER_LIMITS'],
            message: `names ${JSON.stringify(username)}, who is not a user of the local stack (${[...users].join(', ')})`,
          });
        }
      }
      // One password per name: a second entry would silently replace the first (or the development user's).
      const seen = new Set([DOOZER_DEV_USERNAME]);
      for (const { username } of DOOZER_LOCAL_USERS) {
        if (seen.has(username)) {
          const whose = username === DOOZER_DEV_USERNAME ? ' (the development user, DOOZER_DEV_USERNAME)' : '';
          ctx.addIssue({ code: 'custom', path: ['DOOZER_LOCAL_USERS'], message: `names the user ${JSON.stringify(username)} twice${whose}` });
        }
        seen.add(username);
      }
    }),
  ).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n');
    throw new Error(`the local stack settings are not valid:\n${problems}`);
  }
  const e = parsed.data;
  const host = '127.0.0.1';
  return {
    host,
    apiPort: e.DOOZER_API_PORT,
    lambdaPort: e.DOOZER_LAMBDA_PORT,
    sqsPort: e.DOOZER_SQS_PORT,
    dynamodbPort: e.DOOZER_DYNAMODB_PORT,
    devUser: { username: e.DOOZER_DEV_USERNAME, password: e.DOOZER_DEV_PASSWORD },
    localUsers: e.DOOZER_LOCAL_USERS,
    userLimits: e.DOOZER_LOCAL_USER_LIMITS,
    jwtSecret: e.DOOZER_JWT_SECRET,
    visibilityTimeoutSeconds: e.DOOZER_VISIBILITY_TIMEOUT_SECONDS,
    dataDir: e.DOOZER_DATA_DIR,
    apiUrl: `http://${host}:${e.DOOZER_API_PORT}`,
    sqsEndpoint: e.DOOZER_SQS_ENDPOINT ?? `http://${host}:${e.DOOZER_SQS_PORT}`,
    dynamodbEndpoint: e.DOOZER_DYNAMODB_ENDPOINT ?? `http://${host}:${e.DOOZER_DYNAMODB_PORT}`,
    embedded: { sqs: !e.DOOZER_SQS_ENDPOINT, dynamodb: !e.DOOZER_DYNAMODB_ENDPOINT },
    lambdaEndpoint: `http://${host}:${e.DOOZER_LAMBDA_PORT}`,
  };
}
