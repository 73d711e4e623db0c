import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Free loopback ports, picked by the OS. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface StackPorts {
  readonly api: number;
  readonly lambda: number;
  readonly sqs: number;
  readonly dynamodb: number;
  /** The settings that give `npm start` (local/settings.ts) these ports. */
  readonly env: Record<string, string>;
}

/** Four free loopback ports for a local stack, and the environment that hands them to it. */
export async function freeStackPorts(): Promise<StackPorts> {
  const [api, lambda, sqs, dynamodb] = (await freePorts(4)) as [number, number, number, number];
  return {
    api,
    lambda,
    sqs,
    dynamodb,
    env: {
      DOOZER_API_PORT: String(api),
      DOOZER_LAMBDA_PORT: String(lambda),
      DOOZER_SQS_PORT: String(sqs),
      DOOZER_DYNAMODB_PORT: String(dynamodb),
    },
  };
}

export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Sends `signal` (SIGINT is what Ctrl-C sends) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StackProcess extends RunningProcess {
  readonly apiUrl: string;
  readonly ports: { api: number; lambda: number; sqs: number; dynamodb: number };
  /** `npm run workers` against this stack. */
  startWorkers(): Promise<RunningProcess>;
}

/**
 * Starts the local stack the way `npm start` does (the same entry file, in its own process) on free
 * ports, and resolves once it reports that it is running.
 */
export async function startStackProcess(options: { workers: boolean; env?: Record<string, string> }): Promise<StackProcess> {
  const { api, lambda, sqs, dynamodb, env: portsEnv } = await freeStackPorts();
  const env = { ...process.env, ...portsEnv, ...options.env };
  const stack = await startProcess(['local/start.ts', ...(options.workers ? [] : ['--no-workers'])], env, 'doozer is running locally');
  return {
    ...stack,
    apiUrl: `http://127.0.0.1:${api}`,
    ports: { api, lambda, sqs, dynamodb },
    startWorkers: () => startProcess(['local/workers.ts'], env, 'workers ready'),
  };
}

async function startProcess(args: string[], env: NodeJS.ProcessEnv, readyLine: string, timeoutMs = 120_000): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code} before it was ready:\n${output}`));
    });
  });

  return {
    child,
    output: () => output,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
