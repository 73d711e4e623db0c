/**
 * `npm run deploy:localstack`: deploys the real CloudFormation template (serverless.yml, stage
 * `localstack`) to a LocalStack on this machine, started with `docker compose -f localstack.yml up -d`.
 *
 * Every stage but `local` reads the API's JWT secret and users from SSM SecureStrings at cold start,
 * so this first puts both parameters, with a fresh random secret and a fresh user, then runs
 * `serverless deploy` with every AWS call pointed at LocalStack (AWS_ENDPOINT_URL, which the AWS SDK
 * v3 inside osls honours for every client; S3 goes path-style to an IP endpoint), and prints the
 * credentials. Run it from the project's root (npm run does): the service is the one in the
 * current directory.
 *
 * No plugin: serverless-localstack patches the AWS SDK v2 surface of the provider, which osls 4 has
 * removed, and a plugin in serverless.yml is loaded by every deploy, to AWS too.
 *
 * Settings (environment): LOCALSTACK_ENDPOINT (http://127.0.0.1:4566, the port localstack.yml
 * publishes; loopback only), DOOZER_JWT_SECRET_PARAMETER and DOOZER_USERS_PARAMETER (the same names
 * serverless.yml reads), DOOZER_LOCALSTACK_USERNAME (`localstack`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { hashPassword } from '../lib/auth/passwords.ts';
import { DEVELOPMENT_USERNAME } from '../lib/config.ts';

/** The stage deployed to LocalStack; serverless.yml treats it as any stage but `local` (secrets from SSM). */
export const LOCALSTACK_STAGE = 'localstack';
/** Where localstack.yml publishes LocalStack's gateway (`127.0.0.1:4566:4566`). */
export const DEFAULT_LOCALSTACK_ENDPOINT = 'http://127.0.0.1:4566';
export const LOCALSTACK_REGION = 'us-east-1';
/** LocalStack accepts any credentials; these are its documented defaults. */
const LOCALSTACK_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface DeploySettings {
  readonly endpoint: string;
  readonly jwtSecretParameter: string;
  readonly usersParameter: string;
  readonly username: string;
}

/** The settings from the environment; throws naming the problem (an endpoint off this machine…). */
export function deploySettings(env: NodeJS.ProcessEnv): DeploySettings {
  const endpoint = new URL(env.LOCALSTACK_ENDPOINT || DEFAULT_LOCALSTACK_ENDPOINT);
  if (!LOOPBACK_HOSTS.has(endpoint.hostname)) {
    throw new Error(`LOCALSTACK_ENDPOINT must be on this machine (127.0.0.1, localhost or [::1]), not ${endpoint.host}`);
  }
  const username = env.DOOZER_LOCALSTACK_USERNAME || 'localstack';
  if (username === DEVELOPMENT_USERNAME) {
    throw new Error(`DOOZER_LOCALSTACK_USERNAME may not be ${DEVELOPMENT_USERNAME}: only the local stage may have that user`);
  }
  return {
    endpoint: endpoint.origin,
    jwtSecretParameter: env.DOOZER_JWT_SECRET_PARAMETER || `/doozer/${LOCALSTACK_STAGE}/jwt-secret`,
    usersParameter: env.DOOZER_USERS_PARAMETER || `/doozer/${LOCALSTACK_STAGE}/users`,
    username,
  };
}

/**
 * The environment for `serverless deploy`: every AWS client aimed at LocalStack with its test
 * credentials. Profiles, session tokens and per-service endpoints of the caller's shell are dropped,
 * so nothing can send the deployment anywhere else.
 */
export function serverlessEnvironment(settings: DeploySettings, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = Object.fromEntries(
    Object.entries(env).filter(
      ([key]) => !key.startsWith('AWS_ENDPOINT_URL') && !['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'].includes(key),
    ),
  );
  return {
    ...kept,
    AWS_ENDPOINT_URL: settings.endpoint,
    AWS_REGION: LOCALSTACK_REGION,
    AWS_ACCESS_KEY_ID: LOCALSTACK_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCALSTACK_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

async function assertLocalStackRuns(endpoint: string): Promise<void> {
  try {
    const response = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    throw new Error(
      `LocalStack does not answer at ${endpoint} (${(error as Error).message}). Start it with\n` +
        '  docker compose -f localstack.yml up -d\n' +
        '(this needs Docker; see docs/deploying.md, "On LocalStack").',
    );
  }
}

/** Puts the API's two SecureStrings, replacing earlier ones; returns the user's password. */
async function putSecrets(settings: DeploySettings): Promise<string> {
  const ssm = new SSMClient({ region: LOCALSTACK_REGION, endpoint: settings.endpoint, credentials: LOCALSTACK_CREDENTIALS });
  const password = randomBytes(18).toString('base64url');
  const users = [{ username: settings.username, passwordHash: await hashPassword(password) }];
  const parameters = [
    [settings.jwtSecretParameter, randomBytes(32).toString('base64url')],
    [settings.usersParameter, JSON.stringify(users)],
  ] as const;
  try {
    for (const [Name, Value] of parameters) {
      await ssm.send(new PutParameterCommand({ Name, Value, Type: 'SecureString', Overwrite: true }));
    }
  } finally {
    ssm.destroy();
  }
  return password;
}

function serverlessDeploy(env: NodeJS.ProcessEnv): Promise<number> {
  const bin = join(process.cwd(), 'node_modules/serverless/bin/serverless.js');
  const child = spawn(process.execPath, [bin, 'deploy', '--stage', LOCALSTACK_STAGE, '--region', LOCALSTACK_REGION], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

export async function deployToLocalStack(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<number> {
  const settings = deploySettings(env);
  await assertLocalStackRuns(settings.endpoint);
  const password = await putSecrets(settings);
  log(`[doozer] SSM SecureStrings ${settings.jwtSecretParameter} and ${settings.usersParameter} put in LocalStack`);
  const code = await serverlessDeploy(serverlessEnvironment(settings, env));
  if (code !== 0) {
    log(`[doozer] serverless deploy --stage ${LOCALSTACK_STAGE} failed (exit ${code}); see its output above`);
    return code;
  }
  log(`
doozer is deployed to LocalStack (stage ${LOCALSTACK_STAGE}) at ${settings.endpoint}.

  user      ${settings.username} / ${password}
  secrets   ${settings.jwtSecretParameter}, ${settings.usersParameter} (SSM SecureString; a new secret and
            password on every deploy)
  API       the HTTP API endpoint serverless printed above
`);
  return 0;
}

// Run as a script (npm run deploy:localstack), not when a test imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  try {
    process.exitCode = await deployToLocalStack(process.env, (line) => console.log(line));
  } catch (error) {
    console.error(`[doozer] deploy:localstack: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
