import * as z from 'zod/mini';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../webhooks/secrets.ts';
import { type RawSettings, describeIssues, isSet, misconfigured } from './env-schema.ts';
import { DEVELOPMENT_USERNAME, UsersSchema } from './users.ts';

/**
 * What depends on the stage: where the API's secrets come from (the environment on the local stage,
 * SSM SecureString parameters elsewhere), and the development settings only the local stage may use.
 */

/** The stage of `npm start`, the only one that may run with the development settings below. */
export const LOCAL_STAGE = 'local';
/** Only for the local stage: long enough for HS256, and refused anywhere else. */
export const DEVELOPMENT_JWT_SECRET = 'doozer-local-development-secret-not-for-production';

/** The settings that name the SSM parameters holding the API's secrets outside the local stage. */
const PARAMETER_OF = { DOOZER_JWT_SECRET: 'DOOZER_JWT_SECRET_PARAMETER', DOOZER_USERS: 'DOOZER_USERS_PARAMETER' } as const;
type SecretSetting = keyof typeof PARAMETER_OF;
const SECRET_SETTINGS = Object.keys(PARAMETER_OF) as SecretSetting[];
const WHAT_IT_HOLDS: Record<SecretSetting, string> = {
  DOOZER_JWT_SECRET: 'the JWT secret',
  DOOZER_USERS: 'the users (a JSON array of {"username","passwordHash"})',
};

// An SSM parameter name (or ARN), up to 2048 characters; SSM itself says which names do not exist.
export const ParameterName = z.string().check(z.minLength(1), z.maxLength(2048));

/**
 * The rules that depend on the stage, for the settings themselves (the secrets' values are checked by
 * ApiSecretsSchema). The local stage takes its secrets from the environment and names no SSM
 * parameter (it makes no SSM call). Every other stage reads them from SSM SecureString parameters and
 * refuses them in the environment: anyone allowed `lambda:GetFunctionConfiguration` can read a
 * function's environment, while a SecureString also needs `ssm:GetParameters` and `kms:Decrypt`.
 * It runs even when other settings failed, so values are read defensively.
 */
export function checkStageRules(env: RawSettings, ctx: z.core.$RefinementCtx<unknown>): void {
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

/** The API's secrets as read from their SSM parameters, outside the local stage. */
export interface ApiSecretValues {
  readonly jwtSecret: string | undefined;
  readonly users: string | undefined;
}

/**
 * The secrets from where this stage keeps them, checked; undefined (with the problems added) when
 * they are wrong or there is no telling where they are (no stage, or an SSM parameter not named:
 * both already reported by the environment's schema).
 */
export function parseSecrets(
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

/**
 * A user's webhook secret: their own, or on the local stage the development one (DEVELOPMENT_WEBHOOK_SECRET,
 * public, for trying webhooks out); undefined for a user without one elsewhere.
 */
export function webhookSecretOf(user: { readonly webhookSecret?: string } | undefined, stage: string): string | undefined {
  return user?.webhookSecret ?? (stage === LOCAL_STAGE ? DEVELOPMENT_WEBHOOK_SECRET : undefined);
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
