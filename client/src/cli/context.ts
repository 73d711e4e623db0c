/**
 * What every command works with: where it prints (text, or JSON with --json), the client built
 * from the settings, and the exit code it ends with.
 */
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { DoozerClient } from '../doozer-client.ts';
import { InputError } from '../input.ts';
import { type ClientSettings, resolveSettings } from '../settings.ts';
import { FileTokenCache } from '../token-cache.ts';
import { type Failure, MAX_RATE_LIMIT_WAIT_SECONDS, describeRetry } from './failures.ts';
import { httpFetch } from './http-fetch.ts';

/** The options every command takes. */
export interface GlobalOptions {
  url?: string;
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

/** Where a command prints: stdout and stderr, and JSON on stdout with --json. */
export class Output {
  /** True with --json: results, and failures, are printed as JSON on stdout. */
  constructor(readonly json: boolean) {}

  out(line: string): void {
    process.stdout.write(`${line}\n`);
  }

  err(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  /** Reports a failure, as `{"error":…}` on stdout with --json, else `doozer: …` on stderr; returns its exit code. */
  fail(failure: Failure): number {
    if (this.json) this.out(JSON.stringify({ error: failure.error }));
    else if (failure.text !== undefined) this.err(`doozer: ${failure.text}`);
    return failure.exitCode;
  }
}

export interface Connection {
  readonly client: DoozerClient;
  readonly settings: ClientSettings;
}

export interface CliContext {
  readonly output: Output;
  /** The client for the command's settings: flags, then the environment, the config file, the defaults. */
  connect(command: Command): Promise<Connection>;
  /** What the command ends with; 0 unless it sets another. */
  exitCode: number;
}

export function createContext(output: Output): CliContext {
  return {
    output,
    exitCode: 0,
    async connect(command) {
      const options = command.optsWithGlobals<GlobalOptions>();
      const password = options.passwordStdin ? await readPassword() : options.password;
      const settings = await resolveSettings({ flags: { url: options.url, username: options.username, password }, env: process.env });
      const client = new DoozerClient({
        ...settings,
        fetch: httpFetch,
        retryOn429: { maxWaitSeconds: MAX_RATE_LIMIT_WAIT_SECONDS, onRetry: (retry) => output.err(`doozer: ${describeRetry(retry)}`) },
        tokenCache: new FileTokenCache(settings.tokenCachePath, (error) =>
          output.err(`doozer: warning: the token cache ${settings.tokenCachePath} cannot be written (${error.message}); continuing without it`),
        ),
      });
      return { client, settings };
    },
  };
}

async function readPassword(): Promise<string> {
  const password = (await text(process.stdin)).replace(/\r?\n$/, '');
  if (!password) throw new InputError('--password-stdin: no password on standard input');
  return password;
}
