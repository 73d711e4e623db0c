import { Agent, request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { canUseLoopbackAddress } from '../local/ports.ts';
import { type LatencySummary, type LoopResult, type Outcome, runClosedLoop, summarize } from './load.ts';

/** The sync tasks of one run. */
export interface FloodTasks extends LatencySummary {
  readonly completed: number;
  readonly errors: number;
  readonly errorSamples: Record<string, number>;
}

export interface LoginFloodResult {
  readonly idle: FloodTasks;
  readonly floods: readonly LoginFloodRun[];
}

export interface LoginFloodRun {
  readonly label: string;
  readonly concurrency: number;
  /** Logins answered per second during the run, by status. */
  readonly loginsPerSecond: number;
  readonly loginStatuses: Record<string, number>;
  readonly tasks: FloodTasks;
  /** Task p50 during the flood over the idle p50 of the same run. */
  readonly p50Ratio: number;
}

export interface LoginFloodOptions {
  readonly apiUrl: string;
  /** Sync tasks timed in each run (idle, then during each flood). */
  readonly tasks: number;
  readonly concurrency: number;
  readonly maxMs: number;
  /** One sync task, as the benchmark's `sync` operation. */
  readonly syncTask: (index: number) => Promise<Outcome>;
  readonly log: (line: string) => void;
}

/** Loopback addresses to flood from in turn: on Linux every 127/8 address is this machine's. */
const ADDRESSES = Array.from({ length: 200 }, (_, index) => `127.0.1.${2 + index}`);

/**
 * What a flood of failed logins does to the tasks of everyone else: sync tasks at c=1 timed with
 * no other load, then again while `concurrency` callers send `POST /auth/token` with ever-new user
 * names as fast as they are answered. Each new name costs a full password check (the decoy hash),
 * so it is the flood the login limits and the bounded hashing line are there for. Two floods:
 * from one address (the per-address limit answers most of it with 429) and from 200 loopback
 * addresses in turn (only the bounded hashing line stands between it and the CPU).
 */
export async function measureLoginFlood(options: LoginFloodOptions): Promise<LoginFloodResult> {
  const { tasks, maxMs, syncTask, log } = options;
  log(`login flood: ${tasks} sync tasks idle`);
  const idle = taskFigures(await runClosedLoop({ count: tasks, concurrency: 1, maxMs, operation: syncTask }));
  const floods: LoginFloodRun[] = [];
  const runs: [string, readonly string[]][] = [['one address', ['127.0.0.1']]];
  // Linux routes all of 127/8 to itself; macOS only the addresses aliased on lo0.
  if (await canUseLoopbackAddress(ADDRESSES.at(-1)!)) runs.push([`${ADDRESSES.length} addresses`, ADDRESSES]);
  else log(`login flood from many addresses skipped: ${ADDRESSES.at(-1)} is not a loopback address here`);
  for (const [label, addresses] of runs) {
    log(`login flood from ${label} at c=${options.concurrency}, ${tasks} sync tasks beside it`);
    const flood = startFlood(options.apiUrl, addresses, options.concurrency);
    const during = await runClosedLoop({ count: tasks, concurrency: 1, maxMs, operation: syncTask });
    const logins = await flood.stop();
    const figures = taskFigures(during);
    floods.push({
      label,
      concurrency: options.concurrency,
      loginsPerSecond: Math.round(logins.answered / logins.seconds),
      loginStatuses: logins.statuses,
      tasks: figures,
      p50Ratio: Math.round((figures.p50 / idle.p50) * 100) / 100,
    });
  }
  return { idle, floods };
}

function taskFigures(result: LoopResult): FloodTasks {
  return { ...summarize(result.latenciesMs), completed: result.latenciesMs.length, errors: result.errors, errorSamples: result.errorSamples };
}

/** Failed logins with fresh names, in closed loops, from `addresses` in turn, until stopped. */
function startFlood(apiUrl: string, addresses: readonly string[], concurrency: number) {
  const url = new URL(apiUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<string, number> = {};
  let running = true;
  let answered = 0;
  let sent = 0;
  const started = performance.now();
  const login = (localAddress: string) =>
    new Promise<string>((resolve) => {
      const body = JSON.stringify({ username: `flood-${randomBytes(6).toString('hex')}`, password: 'guess' });
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/auth/token',
          localAddress,
          agent,
          headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
          timeout: 30_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve(error.message));
      req.end(body);
    });
  const callers = Array.from({ length: concurrency }, async () => {
    while (running) {
      const status = await login(addresses[sent++ % addresses.length]!);
      statuses[status] = (statuses[status] ?? 0) + 1;
      answered += 1;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(callers);
      agent.destroy();
      return { answered, statuses, seconds: (performance.now() - started) / 1000 };
    },
  };
}
