import * as z from 'zod/mini';
import { type ConfigFile, SettingsError } from './settings.ts';

// zod/mini: the same checks at a fraction of the CLI's bundle size and start-up time.
const ConfigFileSchema = z.strictObject({
  url: z.optional(z.url()),
  username: z.optional(z.string().check(z.minLength(1))),
  password: z.optional(z.string().check(z.minLength(1))),
});

/** The settings of `$XDG_CONFIG_HOME/doozer/config.json` (at `path`), checked; a SettingsError names every problem. */
export function parseConfigFile(path: string, text: string): ConfigFile {
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
