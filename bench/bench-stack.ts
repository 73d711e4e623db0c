import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalSettings, loadLocalSettings } from '../local/settings.ts';
import { type LocalStack, type StackObserver, startLocalStack } from '../local/stack.ts';
import { freeStackPorts } from '../local/ports.ts';
import { LoopbackClient } from './load.ts';

/**
 * The Serverless configuration the bench runs: serverless.yml and the floor function
 * (bench/floor-handler.ts), which the product does not serve.
 */
export const BENCH_SERVERLESS_CONFIG = 'serverless.bench.mjs';

export interface BenchStackOptions {
  readonly observe: StackObserver;
  /** Keep-alive sockets of the load generator's client. */
  readonly sockets: number;
  readonly requestTimeoutMs: number;
  readonly offlineLog: boolean;
  readonly log: (line: string) => void;
}

export interface BenchStack {
  readonly settings: LocalSettings;
  readonly client: LoopbackClient;
  /** Stops the client and the stack (also done on SIGINT/SIGTERM). */
  stop(): Promise<void>;
}

/**
 * Starts the local stack as `npm start` does (emulators and the event-source pollers in this
 * process, serverless-offline as a child) on free loopback ports, with the bench's floor function
 * beside the product's and the sweeper's schedule off, and a keep-alive client for its API.
 * `npm run bench` and its trace use it.
 */
export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const { log } = options;
  // A table of its own, removed when the bench stops: the figures start from an empty store.
  const dataDir = await mkdtemp(join(tmpdir(), 'doozer-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...(await freeStackPorts()).env, DOOZER_DATA_DIR: dataDir };
  // The calls are counted at the embedded emulators: running services elsewhere would count nothing.
  delete env.DOOZER_SQS_ENDPOINT;
  delete env.DOOZER_DYNAMODB_ENDPOINT;
  const settings = loadLocalSettings(env);
  // serverless-offline (a child) inherits this process's environment, which serverless.yml reads.
  // The sweeper is a once-a-minute schedule off the hot path; its Query must not land in a phase's counts.
  process.env.DOOZER_SWEEPER_ENABLED = 'false';
  // One user makes every request, at thousands a second: its limits must not be what is measured.
  // They are counted all the same (a write each), as on every stack.
  process.env.DOOZER_RATE_LIMIT_PER_SECOND ??= '10000';
  process.env.DOOZER_RATE_LIMIT_BURST ??= '100000';
  process.env.DOOZER_OPEN_TASK_LIMIT ??= '5000';
  // serverless-offline prints two notice lines per invocation; at 10,000 requests that buries the table.
  if (!options.offlineLog) process.env.SLS_LOG_LEVEL ??= 'warning';

  log(`starting the local stack on ${settings.apiUrl}`);
  const stack: LocalStack = await startLocalStack(settings, {
    workers: true,
    log: (line) => log(`stack: ${line}`),
    observe: options.observe,
    serverlessConfig: BENCH_SERVERLESS_CONFIG,
  }).catch(async (error: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  });
  const client = new LoopbackClient(settings.apiUrl, { sockets: options.sockets, timeoutMs: options.requestTimeoutMs });
  const stop = onSignalStop(async () => {
    client.close();
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { settings, client, stop };
}

/**
 * serverless-offline runs in its own process group, which a Ctrl-C in the terminal does not reach:
 * stop the stack on SIGINT/SIGTERM, then exit. Returns the stop to call when the run ends normally.
 */
function onSignalStop(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const once = () => (stopping ??= stop());
  const onSignal = (signal: NodeJS.Signals) => {
    void once().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await once();
  };
}
