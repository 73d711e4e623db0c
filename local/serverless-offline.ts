import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { LOCAL_CREDENTIALS, type LocalSettings, REGION, STAGE } from './settings.ts';

/**
 * `serverless offline` as the local stack runs it: a child process in its own process group, which
 * ends with the stack however the stack's process dies (child-watchdog.mjs), stopped group and all.
 */

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVERLESS_BIN = fileURLToPath(new URL('../node_modules/serverless/bin/serverless.js', import.meta.url));
const WATCHDOG = fileURLToPath(new URL('./child-watchdog.mjs', import.meta.url));

/**
 * Starts `serverless offline` on `httpPort` (and the stack's Lambda port) with `config` (serverless.yml
 * unless given) and `env` beside this process's environment.
 */
export function startServerlessOffline(settings: LocalSettings, httpPort: number, config: string | undefined, env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [
      // The functions run in this process (--useInProcess): a task's stack trace in the log then
      // names its source file and line (tasks/<name>.ts), not a column of the minified bundle.
      '--enable-source-maps',
      // Ends serverless-offline's group when this process dies, kill -9 included (see the file).
      '--import',
      WATCHDOG,
      SERVERLESS_BIN,
      'offline',
      'start',
      ...(config === undefined ? [] : ['--config', config]),
      '--stage',
      STAGE,
      '--host',
      settings.host,
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(settings.lambdaPort),
      // Functions on the main thread rather than worker threads: measured warm worker invocations
      // fell from 30-40 ms to 12-20 ms on this 2-core machine.
      '--useInProcess',
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        ...env,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      },
      // The IPC channel is the watchdog's lifeline to this process; nothing is sent on it.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // A group of its own, so stopping it reaches everything it started (esbuild's service).
      detached: true,
    },
  );
  return { child, stop: () => stopProcessGroup(child) };
}

/** Whether the child has exited, by itself or by a signal. */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Stops a detached child and everything it started: SIGTERM to the group, SIGKILL after 5 s. */
async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  const exited = once(child, 'exit');
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  signalGroup('SIGKILL'); // Anything of the group that outlived its leader.
}
