import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeStackPorts } from '../../local/ports.ts';

export { canUseLoopbackAddress, freePorts, freeStackPorts, isListening } from '../../local/ports.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has exited (null if a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (SIGINT is what Ctrl-C sends) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StackProcess extends RunningProcess {
  readonly apiUrl: string;
  readonly ports: { api: number; lambda: number; sqs: number; dynamodb: number };
  /** Where the stack keeps its table: a temporary folder unless one was given. */
  readonly dataDir: string;
  /** The environment the stack runs with (its ports and data folder), to start another on the same. */
  readonly env: Record<string, string>;
  /** `npm run workers` against this stack. */
  startWorkers(): Promise<RunningProcess>;
}

export interface StackProcessOptions {
  readonly workers: boolean;
  readonly env?: Record<string, string>;
  /** More flags for `npm start` (`--fresh`). */
  readonly args?: readonly string[];
  /** Keep the table here (and leave it) instead of in a temporary folder removed on stop. */
  readonly dataDir?: string;
  /**
   * Run `npm start` itself in a process group of its own, as a terminal does, so that the group can
   * be killed (`kill -9 -<pid>`); by default the entry file runs in node directly.
   */
  readonly viaNpm?: boolean;
  /** The project to start: this one unless a copy is given. */
  readonly cwd?: string;
}

/**
 * Per-user limits far above what any suite asks: the suites measure other things (bursts of a load
 * test, a lifecycle's lists). The suite of the limits themselves sets its own.
 */
export const UNMETERED: Readonly<Record<string, string>> = {
  DOOZER_RATE_LIMIT_PER_SECOND: '10000',
  DOOZER_RATE_LIMIT_BURST: '100000',
  DOOZER_OPEN_TASK_LIMIT: '5000',
};

/**
 * Starts the local stack the way `npm start` does (the same entry file, in its own process) on free
 * ports and a data folder of its own, and resolves once it reports that it is running.
 */
export async function startStackProcess(options: StackProcessOptions): Promise<StackProcess> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'doozer-stack-')));
  // Ports given in `env` (another stack's, to start on the same) win over fresh ones.
  const env: Record<string, string> = { ...(await freeStackPorts()).env, DOOZER_DATA_DIR: dataDir, ...UNMETERED, ...options.env };
  const [api, lambda, sqs, dynamodb] = ['API', 'LAMBDA', 'SQS', 'DYNAMODB'].map((name) => Number(env[`DOOZER_${name}_PORT`])) as [
    number,
    number,
    number,
    number,
  ];
  const args = [...(options.workers ? [] : ['--no-workers']), ...(options.args ?? [])];
  const stack = await startProcess(
    options.viaNpm ? ['npm', 'start', '--silent', ...(args.length > 0 ? ['--', ...args] : [])] : ['local/start.ts', ...args],
    env,
    'doozer is running locally',
    { viaNpm: options.viaNpm, cwd: options.cwd },
  ).catch(async (error: unknown) => {
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  });
  return {
    ...stack,
    apiUrl: `http://127.0.0.1:${api}`,
    ports: { api, lambda, sqs, dynamodb },
    dataDir,
    env,
    async stop(signal) {
      const code = await stack.stop(signal);
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
      return code;
    },
    startWorkers: () => startProcess(['local/workers.ts'], env, 'workers ready'),
  };
}

/**
 * Starts `args` (an entry file run by node with tsx, or a command when `viaNpm`) and resolves once
 * `readyLine` appears on stdout; rejects if it exits first or takes longer than `timeoutMs`.
 */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  readyLine: string,
  { timeoutMs = 120_000, viaNpm = false, cwd = ROOT }: { timeoutMs?: number; viaNpm?: boolean; cwd?: string } = {},
): Promise<RunningProcess> {
  const [command, commandArgs] = viaNpm ? [args[0]!, args.slice(1)] : [process.execPath, ['--import', 'tsx', ...args]];
  const child = spawn(command, commandArgs, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: viaNpm,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready:\n${output}`));
    });
  });

  return {
    child,
    output: () => output,
    exited,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Live (not zombie) processes whose command line contains `needle`, as `pid args` lines. */
export function processesMatching(needle: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(needle) && !/^\s*\d+\s+Z/.test(line) && !line.includes('ps -eo'));
}

/** Live (not zombie) processes of the process group `pgid`, as `pid args` lines. */
export function processesInGroup(pgid: number): string[] {
  return execFileSync('ps', ['-eo', 'pgid=,pid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([group, , stat]) => Number(group) === pgid && !stat?.startsWith('Z'))
    .map(([, pid, , ...args]) => `${pid} ${args.join(' ')}`);
}

/** A bearer token for the development user (doozer / doozer) from the stack at `apiUrl`. */
export async function devUserToken(apiUrl: string): Promise<string> {
  const response = await fetch(`${apiUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'doozer', password: 'doozer' }),
  });
  if (!response.ok) throw new Error(`POST /auth/token answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}
