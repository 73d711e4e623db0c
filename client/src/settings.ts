import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { quote } from './input.ts';

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
    throw new SettingsError(`the URL ${quote(url)} is not an http(s) URL; give one like ${DEFAULTS.url}`);
  }
  return {
    url,
    username: flags.username ?? (env.DOOZER_USERNAME || undefined) ?? file.username ?? DEFAULTS.username,
    password: flags.password ?? (env.DOOZER_PASSWORD || undefined) ?? file.password ?? DEFAULTS.password,
    tokenCachePath: tokenCachePath(env),
  };
}

/** What a config file may say; every field optional. */
export interface ConfigFile {
  readonly url?: string;
  readonly username?: string;
  readonly password?: string;
}

async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  // Its schema (zod) is loaded only for a file there is: most runs have none, and need not load it.
  const { parseConfigFile } = await import('./config-file.ts');
  return parseConfigFile(path, text);
}
