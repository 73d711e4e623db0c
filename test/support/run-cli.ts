import { spawn } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `doozer` binary as npm links it for `npx doozer`. */
export const DOOZER_BIN = fileURLToPath(new URL('../../node_modules/.bin/doozer', import.meta.url));
const CLIENT_SOURCES = fileURLToPath(new URL('../../client/src', import.meta.url));

/**
 * Throws, naming the fix, when a file of client/src is newer than the bundle the binary runs: a
 * stale bundle would test yesterday's code.
 */
export async function checkBundleIsFresh(): Promise<void> {
  const bundle = realpathSync(DOOZER_BIN);
  const built = statSync(bundle).mtimeMs;
  const files = await readdir(CLIENT_SOURCES, { recursive: true });
  const stale = files.filter((file) => statSync(join(CLIENT_SOURCES, file)).mtimeMs > built);
  if (stale.length > 0) throw new Error(`${bundle} is older than client/src/${stale.join(', ')}; run \`npm run build -w client\``);
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A home of its own for the CLI: empty config and token cache folders, no DOOZER_* variables. */
export async function cliEnvironment(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const home = await mkdtemp(join(tmpdir(), 'doozer-cli-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DOOZER_')));
  return { ...env, XDG_CONFIG_HOME: join(home, 'config'), XDG_CACHE_HOME: join(home, 'cache'), ...extra };
}

/** Runs the real binary to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOOZER_BIN, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
