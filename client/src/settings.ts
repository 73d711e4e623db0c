import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod/mini';

/** Defaults: the local stack that `npm start` runs, and its development user. */
export const DEFAULTS = { url: 'http://127.0.0.1:3000', username: 'doozer', password: 'doozer' } as const;

export interface ClientSettings {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly tokenCachePath: string;
}

export interface SettingsSources {
  readonly flags: { url?: string; username?: string; password?: string };
  readonly env: NodeJS.ProcessEnv;
}

/** A setting the user gave that cannot be used; the CLI reports it as a usage error. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

// zod/mini: the same checks at a fraction of the CLI's bundle size and start-up time.
const ConfigFileSchema = z.strictObject({
  url: z.optional(z.url()),
  username: z.optional(z.string().check(z.minLength(1))),
  password: z.optional(z.string().check(z.minLength(1))),
});

/** `$XDG_CONFIG_HOME/doozer/config.json`, by default `~/.config/doozer/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'doozer', 'config.json');
}

/** `$XDG_CACHE_HOME/doozer/tokens.json`, by default `~/.cache/doozer/tokens.json`. */
export function tokenCachePath(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'doozer', 'tokens.json');
}

/**
 * Each setting from the first place that has it: flags, then DOOZER_URL / DOOZER_USERNAME /
 * DOOZER_PASSWORD, then the config file, then the local stack's defaults.
 */
export async function resolveSettings({ flags, env }: SettingsSources): Promise<ClientSettings> {
  for (const [name, value] of Object.entries(flags)) {
    if (value === '') throw new SettingsError(`--${name} must not be empty`);
  }
  const file = await readConfigFile(configFilePath(env));
  const url = flags.url ?? (env.DOOZER_URL || undefined) ?? file.url ?? DEFAULTS.url;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new SettingsError(`the URL ${JSON.stringify(url)} is not an http(s) URL; give one like ${DEFAULTS.url}`);
  }
  return {
    url,
    username: flags.username ?? (env.DOOZER_USERNAME || undefined) ?? file.username ?? DEFAULTS.username,
    password: flags.password ?? (env.DOOZER_PASSWORD || undefined) ?? file.password ?? DEFAULTS.password,
    tokenCachePath: tokenCachePath(env),
  };
}

async function readConfigFile(path: string): Promise<z.infer<typeof ConfigFileSchema>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`the config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const result = ConfigFileSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
    throw new SettingsError(`the config file ${path} is not valid: ${problems.join('; ')}`);
  }
  return result.data;
}
