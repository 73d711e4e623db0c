import { GetParametersCommand, type Parameter, type SSMClient } from '@aws-sdk/client-ssm';
import {
  type ApiConfig,
  ConfigError,
  type NotifierConfig,
  apiSecretParameters,
  loadApiConfig,
  loadNotifierConfig,
  notifierUsersParameter,
  webhookSecretsOf,
} from '../config.ts';

/**
 * The API's configuration at cold start. On the local stage it comes from the environment alone and
 * makes no SSM call; on any other stage the JWT secret and the users are read from their SSM
 * SecureString parameters, once, in one GetParameters call, and checked like any setting. Call it in
 * the handler's module scope (top-level await), so the read happens in Lambda's init phase and its
 * result lives as long as the process; any failure is a ConfigError and the function fails to init.
 */
export async function loadApiSettings(env: NodeJS.ProcessEnv, ssm: SSMClient): Promise<ApiConfig> {
  // Checks every other setting first: a misconfigured function fails before it makes any call.
  const parameters = apiSecretParameters(env);
  if (!parameters) return loadApiConfig(env);
  const values = await readSecureStrings(ssm, [parameters.jwtSecret, parameters.users]);
  return loadApiConfig(env, { jwtSecret: values.get(parameters.jwtSecret), users: values.get(parameters.users) });
}

/**
 * The notifier's configuration at cold start: outside the local stage the users (for their webhook
 * secrets) are read from the same SSM SecureString parameter as the API's, once.
 */
export async function loadNotifierSettings(env: NodeJS.ProcessEnv, ssm: SSMClient): Promise<NotifierConfig> {
  const parameter = notifierUsersParameter(env);
  if (parameter === undefined) return loadNotifierConfig(env);
  const values = await readSecureStrings(ssm, [parameter]);
  return loadNotifierConfig(env, values.get(parameter));
}

/**
 * Reads the users' webhook secrets again from their SSM parameter (the notifier's RefreshingWebhookSecrets);
 * undefined on the local stage, whose users do not change while it runs.
 */
export function webhookSecretsReloader(config: NotifierConfig, ssm: SSMClient): (() => Promise<ReadonlyMap<string, string>>) | undefined {
  const parameter = config.usersParameter;
  if (parameter === undefined) return undefined;
  return async () => {
    const values = await readSecureStrings(ssm, [parameter]);
    return webhookSecretsOf(values.get(parameter), config.stage, `SSM parameter ${parameter}`);
  };
}

/**
 * Reads SecureString parameters, decrypted, in one GetParameters call (which takes up to 10 names),
 * as name -> value. A parameter that does not exist, is not a SecureString, or cannot be read (no
 * `ssm:GetParameters` on it, no `kms:Decrypt` on its key, SSM unreachable) is a ConfigError naming
 * it. Messages name parameters, never values.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html
 */
export async function readSecureStrings(client: SSMClient, names: readonly string[]): Promise<ReadonlyMap<string, string>> {
  const unique = [...new Set(names)];
  let parameters: Parameter[];
  let invalid: string[];
  try {
    const output = await client.send(new GetParametersCommand({ Names: unique, WithDecryption: true }));
    parameters = output.Parameters ?? [];
    invalid = output.InvalidParameters ?? [];
  } catch (error) {
    throw new ConfigError(
      `doozer could not read the SSM parameters ${unique.join(', ')} (${describe(error)}); ` +
        `the function's role needs ssm:GetParameters on them, and kms:Decrypt on their key if it is not aws/ssm`,
      { cause: error },
    );
  }
  const values = new Map<string, string>();
  const problems: string[] = [];
  for (const name of unique) {
    const parameter = parameters.find((p) => p.Name === name || p.ARN === name || `${p.Name}${p.Selector ?? ''}` === name);
    if (!parameter || invalid.includes(name)) {
      problems.push(`  ${name}: does not exist in this account and region (create it as a SecureString)`);
    } else if (parameter.Type !== 'SecureString') {
      problems.push(`  ${name}: is a ${parameter.Type ?? 'untyped'} parameter; store it as a SecureString, encrypted at rest`);
    } else if (parameter.Value === undefined) {
      problems.push(`  ${name}: came back without a value`);
    } else {
      values.set(name, parameter.Value);
    }
  }
  if (problems.length > 0) throw new ConfigError(`doozer is misconfigured:\n${problems.join('\n')}`);
  return values;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
