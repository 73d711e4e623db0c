/**
 * `npm run bench:trace`: where the time of one sync `POST /tasks` goes on the local stack. Starts the
 * stack as `npm run bench` does, warms it up, measures the floor at c=1, then sends sync adds one
 * at a time (c=1, back to back unless `--gap-ms`) and timestamps, per task, every step that can be
 * seen from this process: the client, the emulators' HTTP servers (request arrived, response sent,
 * and for DynamoDB the task id and state from the body) and the event source (invocation start and
 * end, with its records' task ids). analysis.ts correlates them by task id and cuts the path into
 * segments. See HELP, and BENCHMARKS.md, "Where the time goes".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readCommandLine } from '../command-line.ts';
import { startBenchStack } from '../bench-stack.ts';
import { CpuMeter } from '../cpu.ts';
import { summarize } from '../load.ts';
import { login, operations } from '../operations.ts';
import { describeEnvironment } from '../report.ts';
import { CRITICAL_PATH, SIDE_FIGURES, breakdown, correlate } from './analysis.ts';
import { BLOCK, measureFloor, runTracedBlocks } from './phases.ts';
import { CpuProfiling, type ProfileWindow } from './profile.ts';
import { TraceRecorder } from './recorder.ts';
import { type TraceResult, toMarkdown } from './report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const HELP = `Usage: npm run bench:trace [-- options]

Starts the local stack as npm run bench does, warms it up, measures the floor (POST /bench/floor)
at c=1, then sends sync POST /tasks adds one at a time and times each step of every task at the
client, the emulators and the event source. Traced blocks of ${BLOCK} tasks alternate with untraced
ones, so the report shows what tracing costs. Prints the breakdown and writes <out>.

Options:
  --tasks N        sync tasks traced, at c=1 (500; as many again run untraced)
  --warmup N       sync tasks, then floor requests, before measuring (200)
  --floor N        floor requests at c=1, for comparison (500)
  --gap-ms N       pause between two tasks, so one task's trailing work (delete, next poll) cannot
                   overlap the next (0: back to back, as npm run bench's sync phase)
  --cpu-prof       also profile both processes over those blocks (V8's sampling profiler every
                   250 µs; in serverless-offline through bench/cpu-profile-preload.cjs) and
                   attribute the samples to code; profiling slows that run, so take timings from another
  --out FILE       the JSON result (bench/results/trace.json)
  -h, --help       this text`;

const { values, usage, count } = readCommandLine('bench:trace', HELP, {
  tasks: { type: 'string' },
  warmup: { type: 'string' },
  floor: { type: 'string' },
  'gap-ms': { type: 'string' },
  'cpu-prof': { type: 'boolean', default: false },
  out: { type: 'string', default: join(ROOT, 'bench', 'results', 'trace.json') },
});
const options = {
  tasks: count('tasks', values.tasks, 500, 1),
  warmup: count('warmup', values.warmup, 200, 0),
  floor: count('floor', values.floor, 500, 1),
  gapMs: count('gap-ms', values['gap-ms'], 0, 0),
  cpuProf: values['cpu-prof'],
};
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const log = (line: string) => console.error(`[trace] ${line}`);
const startedAt = new Date().toISOString();

if (options.cpuProf) await CpuProfiling.beforeStackStart();
const recorder = new TraceRecorder();
const bench = await startBenchStack({ observe: recorder.observer, sockets: 1, requestTimeoutMs: 30_000, offlineLog: false, log });
if (options.cpuProf) CpuProfiling.afterStackStart();
const profiling = options.cpuProf ? new CpuProfiling() : undefined;

let result: Omit<TraceResult, 'environment' | 'profile' | 'benchProfile'>;
let window: ProfileWindow;
try {
  const token = await login(bench.client, bench.settings.devUser);
  const call = (method: 'GET' | 'POST', path: string, body?: unknown) => bench.client.send(method, path, { body, token });
  const cpu = await CpuMeter.find();
  const cores = availableParallelism();
  const floor = await measureFloor({ ops: operations(call), cpu, cores, warmup: options.warmup, floor: options.floor, log });
  await sleep(500);
  const blocks = await runTracedBlocks({ call, recorder, cpu, cores, tasks: options.tasks, gapMs: options.gapMs, profiling, log });
  window = blocks.window;

  const { traces, rejected } = correlate(blocks.clients, recorder.exchanges, recorder.invokes);
  const receivesAnsweredPerTask: Record<number, number> = {};
  for (const trace of traces) receivesAnsweredPerTask[trace.receivesAnswered] = (receivesAnsweredPerTask[trace.receivesAnswered] ?? 0) + 1;
  result = {
    startedAt,
    options,
    floor: { n: floor.loop.latenciesMs.length, ...summarize(floor.loop.latenciesMs), cpu: floor.cpu },
    sync: {
      n: blocks.clients.length,
      errors: blocks.errors.length,
      ...summarize(blocks.clients.map((client) => client.receive - client.send)),
      cpu: blocks.cpu.traced,
    },
    control: { n: blocks.control.length, ...summarize(blocks.control), cpu: blocks.cpu.control },
    rejected,
    receivesAnsweredPerTask,
    breakdown: breakdown(traces),
    tasks: traces.map((trace) => ({
      reads: trace.gets.length,
      ...Object.fromEntries([...CRITICAL_PATH, ...SIDE_FIGURES].map((segment) => [segment.key, Math.round(segment.ms(trace) * 1000) / 1000])),
    })),
  };
  if (blocks.errors.length > 0) log(`${blocks.errors.length} tasks did not answer 200 SUCCESS: ${blocks.errors.slice(0, 3).join(' | ')}`);
} finally {
  log('stopping the local stack');
  await bench.stop();
}

const profiles = profiling ? await profiling.figures(window, log) : {};
const report: TraceResult = {
  ...result,
  ...(profiles.offline && { profile: profiles.offline }),
  ...(profiles.bench && { benchProfile: profiles.bench }),
  environment: await describeEnvironment(startedAt),
};
await mkdir(dirname(values.out), { recursive: true });
await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(toMarkdown(report));
log(`result in ${values.out}`);
if (report.sync.errors > 0) process.exitCode = 1;
