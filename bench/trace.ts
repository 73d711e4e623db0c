/**
 * `npm run bench:trace`: where the time of one sync `POST /tasks` goes on the local stack. Starts the
 * stack as `npm run bench` does, warms it up, measures the floor at c=1, then sends sync adds one
 * at a time (c=1, back to back unless `--gap-ms`) and timestamps, per task, every step that can be
 * seen from this process: the client, the emulators' HTTP servers (request arrived, response sent,
 * and for DynamoDB the task id and state from the body) and the event source (invocation start and
 * end, with its records' task ids). bench/trace-analysis.ts correlates them by task id and cuts the
 * path into segments. See HELP, and BENCHMARKS.md, "Where the time goes".
 */
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Session as InspectorSession } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackObserver } from '../local/stack.ts';
import { login, operations, startBenchStack } from './benchmark.ts';
import { parseTarget } from './call-counter.ts';
import { CpuMeter, type PhaseCpu, phaseCpu } from './cpu.ts';
import { runClosedLoop, summarize } from './load.ts';
import { describeEnvironment } from './report.ts';
import {
  type Breakdown,
  type ClientSpan,
  type Exchange,
  type InvokeSpan,
  type SegmentFigure,
  CRITICAL_PATH,
  SIDE_FIGURES,
  breakdown,
  correlate,
  taskOfBody,
} from './trace-analysis.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Traced tasks per block; untraced blocks of the same size alternate with them. */
const BLOCK = 50;

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

function usage(message: string): never {
  console.error(`bench:trace: ${message}\n\n${HELP}`);
  process.exit(2);
}

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) usage(`--${name} must be an integer of at least ${min}, got ${JSON.stringify(value)}`);
  return parsed;
}

/** DynamoDB item calls: their bodies name the task (`Item.id` or `Key.id`). */
const ITEM_CALLS = new Set(['PutItem', 'UpdateItem', 'GetItem', 'DeleteItem']);

/**
 * Records what the stack's hooks see, on this process's clock, while `enabled` (from the start, so
 * the long poll that is already waiting when the traced phase begins is seen too). Reads DynamoDB
 * request bodies by listening to `data` beside dynalite (which reads them in its own synchronous
 * `request` listener, registered first); SQS bodies are not read.
 */
class TraceRecorder {
  enabled = true;
  readonly exchanges: Exchange[] = [];
  readonly invokes: InvokeSpan[] = [];

  readonly observer: StackObserver = {
    onAwsRequest: (target, request, response) => {
      if (!this.enabled) return;
      const { service, operation } = parseTarget(target);
      const exchange: Exchange = { action: operation, service, arrive: performance.now() };
      this.exchanges.push(exchange);
      if (service === 'DynamoDB' && ITEM_CALLS.has(operation)) {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.once('end', () => {
          exchange.bodyEnd = performance.now();
          Object.assign(exchange, taskOfBody(Buffer.concat(chunks).toString('utf8')));
        });
      }
      response.once('finish', () => {
        exchange.finish = performance.now();
        exchange.responseBytes = Number(response.getHeader('content-length') ?? Number.NaN);
      });
    },
    onInvoke: (functionName, _records, event) => {
      if (!this.enabled) return;
      const taskIds = event.Records.map((record) => {
        try {
          return String((JSON.parse(record.body) as { taskId?: unknown }).taskId);
        } catch {
          return '';
        }
      });
      const span: InvokeSpan = { functionName, taskIds, start: performance.now() };
      this.invokes.push(span);
      return () => {
        span.end = performance.now();
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU profile of serverless-offline (optional)

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const NODE_INTERNALS = 'Node internals (http, net, streams, timers…)';
const AWS_SDK = 'AWS SDK v3 (@aws-sdk, @smithy)';

/** Where a source file belongs, for the profile's tables: a coarse owner, and its package (or file). */
function ownerOf(source: string): { owner: string; detail: string } {
  const path = source.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) {
    if (/^@(aws-sdk|smithy|aws-crypto)\//.test(pkg)) return { owner: AWS_SDK, detail: pkg };
    if (pkg.startsWith('@hapi/')) return { owner: 'hapi (serverless-offline HTTP server)', detail: pkg };
    if (pkg.startsWith('@aws-lambda-powertools/')) return { owner: 'Powertools (batch, logger)', detail: pkg };
    return { owner: pkg, detail: pkg };
  }
  const own = /\/(lib|handlers|local|bench)\/.*$/.exec(path);
  if (own && !path.includes('/.esbuild/')) {
    const detail = own[0].slice(1);
    if (own[1] === 'local') return { owner: 'doozer local stack (local/: the event-source pollers)', detail };
    if (own[1] === 'bench') return { owner: 'the bench (bench/: load client, trace recorder)', detail };
    return { owner: 'doozer code (lib/, handlers/)', detail };
  }
  if (path.startsWith('node:')) return { owner: NODE_INTERNALS, detail: path };
  return { owner: `other: ${relative(ROOT, path)}`, detail: path };
}

interface Attribution {
  /** ms by coarse owner: the package or part of the stack the sample's nearest non-internal frame is in. */
  readonly byOwner: Record<string, number>;
  /** ms by package, within the AWS SDK. */
  readonly bySdkPackage: Record<string, number>;
  /** ms by the function bundle on the sample's stack (handlers/api.mjs…), or none. */
  readonly byFunction: Record<string, number>;
  readonly sampledMs: number;
}

/**
 * Attributes the profile's samples taken between `fromUs` and `toUs` (V8's monotonic clock, which on
 * Linux is the one process.hrtime reads) to code: each sample goes to the nearest frame on its stack
 * that is not a Node internal or a VM frame (so a Node http call made by hapi counts to hapi), mapped
 * through the bundles' source maps to the original package or file. Samples with no such frame count
 * to Node internals (a socket write flushed on a later tick, the parser of an incoming request).
 */
function attribute(profile: CpuProfile, fromUs: number, toUs: number, maps: Map<string, SourceMap>): Attribution {
  const parent = new Map<number, number>();
  const nodes = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    nodes.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const frameOwner = (node: ProfileNode): { owner: string; detail: string } | undefined => {
    const { url, functionName, lineNumber, columnNumber } = node.callFrame;
    if (functionName === '(garbage collector)') return { owner: 'garbage collector', detail: '' };
    if (functionName === '(idle)') return { owner: '(idle)', detail: '' };
    if (functionName === '(program)') return { owner: '(program: V8 and native, no JS frame)', detail: '' };
    if (url === '' || url.startsWith('node:')) return undefined;
    const map = maps.get(url);
    if (map) {
      const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string };
      return entry.originalSource ? ownerOf(entry.originalSource.replace(/^(\.\.\/)+/, '/')) : { owner: 'bundle (unmapped)', detail: url };
    }
    return ownerOf(url);
  };
  const cache = new Map<number, { owner: string; detail: string; fn: string }>();
  const classify = (id: number) => {
    const cached = cache.get(id);
    if (cached) return cached;
    let found: { owner: string; detail: string } | undefined;
    let fn: string | undefined;
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const node = nodes.get(current)!;
      found ??= frameOwner(node);
      if (fn === undefined && maps.has(node.callFrame.url)) fn = relative(join(ROOT, '.esbuild', '.build'), fileURLToPath(node.callFrame.url));
    }
    const result = { ...(found ?? { owner: NODE_INTERNALS, detail: '' }), fn: fn ?? 'none (serverless-offline itself, Node, idle)' };
    cache.set(id, result);
    return result;
  };
  const byOwner: Record<string, number> = {};
  const bySdkPackage: Record<string, number> = {};
  const byFunction: Record<string, number> = {};
  const add = (into: Record<string, number>, key: string, ms: number) => (into[key] = (into[key] ?? 0) + ms);
  let at = profile.startTime;
  let sampledMs = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += profile.timeDeltas[i]!;
    if (at < fromUs || at > toUs) continue;
    // A sample stands for the time until the next one.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const { owner, detail, fn } = classify(profile.samples[i]!);
    add(byOwner, owner, ms);
    if (owner === AWS_SDK) add(bySdkPackage, detail, ms);
    if (owner !== '(idle)') add(byFunction, fn, ms);
    sampledMs += ms;
  }
  return { byOwner, bySdkPackage, byFunction, sampledMs };
}

/** The bundles' source maps, copied while the stack runs (serverless-esbuild may clean them up). */
async function copySourceMaps(into: string): Promise<Map<string, string>> {
  const build = join(ROOT, '.esbuild', '.build');
  const copied = new Map<string, string>();
  const entries = await readdir(build, { recursive: true }).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.endsWith('.mjs.map') && !entry.endsWith('.js.map')) continue;
    const target = join(into, entry.replaceAll('/', '__'));
    await copyFile(join(build, entry), target);
    copied.set(pathToFileURL(join(build, entry.slice(0, -'.map'.length))).href, target);
  }
  return copied;
}

// ---------------------------------------------------------------------------------------------

interface TraceResult {
  readonly startedAt: string;
  readonly options: { tasks: number; warmup: number; floor: number; gapMs: number; cpuProf: boolean };
  readonly floor: ReturnType<typeof summarize> & { readonly n: number; readonly cpu: PhaseCpu };
  readonly sync: ReturnType<typeof summarize> & { readonly n: number; readonly errors: number; readonly cpu: PhaseCpu };
  /** The same tasks untraced, in blocks alternating with the traced ones: what tracing costs. */
  readonly control: ReturnType<typeof summarize> & { readonly n: number; readonly cpu: PhaseCpu };
  readonly rejected: { taskId: string; reason: string }[];
  readonly receivesAnsweredPerTask: Record<number, number>;
  readonly breakdown: Breakdown;
  readonly tasks: readonly Record<string, number>[];
  readonly profile?: {
    readonly sampledMsPerTask: number;
    readonly msPerTaskByOwner: Record<string, number>;
    readonly msPerTaskBySdkPackage: Record<string, number>;
    readonly msPerTaskByFunction: Record<string, number>;
  };
  /** The same for this process (emulators, pollers, client, recorder). */
  readonly benchProfile?: {
    readonly sampledMsPerTask: number;
    readonly msPerTaskByOwner: Record<string, number>;
    readonly msPerTaskBySdkPackage: Record<string, number>;
  };
  readonly environment: Awaited<ReturnType<typeof describeEnvironment>>;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tasks: { type: 'string' },
        warmup: { type: 'string' },
        floor: { type: 'string' },
        'gap-ms': { type: 'string' },
        'cpu-prof': { type: 'boolean', default: false },
        out: { type: 'string', default: join(ROOT, 'bench', 'results', 'trace.json') },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  if (values.help) {
    console.log(HELP);
    return;
  }
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

  const profileDir = join(ROOT, 'bench', 'results', 'trace-profile');
  if (options.cpuProf) {
    await rm(profileDir, { recursive: true, force: true });
    await mkdir(profileDir, { recursive: true });
    // Only the child reads these: this process has started already. Node 20 refuses --cpu-prof in
    // NODE_OPTIONS, so a preloaded script runs the profiler, started and stopped by SIGUSR2.
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${join(ROOT, 'bench', 'cpu-profile-preload.cjs')}`.trim();
    process.env.DOOZER_CPU_PROFILE_DIR = profileDir;
  }

  const recorder = new TraceRecorder();
  const bench = await startBenchStack({ observe: recorder.observer, sockets: 1, requestTimeoutMs: 30_000, offlineLog: false, log });
  if (options.cpuProf) {
    delete process.env.NODE_OPTIONS;
    delete process.env.DOOZER_CPU_PROFILE_DIR;
  }
  let result: Omit<TraceResult, 'environment' | 'profile'>;
  let window: { fromUs: number; toUs: number; tasks: number } | undefined;
  let maps = new Map<string, string>();
  let selfProfiler: InspectorSession | undefined;
  let selfProfile: CpuProfile | undefined;
  try {
    const token = await login(bench.client, bench.settings.devUser);
    const call = (method: 'GET' | 'POST', path: string, body?: unknown) => bench.client.send(method, path, { body, token });
    const ops = operations(call);
    const cpu = await CpuMeter.find();
    const cores = availableParallelism();

    log(`warm-up: ${options.warmup} sync, then ${options.warmup} floor, at c=1`);
    await runClosedLoop({ count: options.warmup, concurrency: 1, maxMs: 300_000, operation: ops.sync });
    await runClosedLoop({ count: options.warmup, concurrency: 1, maxMs: 300_000, operation: ops.floor });

    log(`floor: ${options.floor} at c=1`);
    const before = await cpu.sample();
    const floor = await runClosedLoop({ count: options.floor, concurrency: 1, maxMs: 300_000, operation: ops.floor });
    const after = await cpu.sample();
    const floorCpu = phaseCpu(before, after, floor.latenciesMs.length, floor.elapsedMs, cores);
    await sleep(500);

    // Traced blocks alternate with untraced ones of the same size, to measure what tracing itself
    // costs (it runs in this process, beside the emulators and pollers). A traced block starts with
    // one task that is not traced: the long poll that will receive its message began untraced.
    const blocks = Math.ceil(options.tasks / BLOCK);
    log(`trace: ${options.tasks} sync tasks at c=1 (${options.gapMs ? `${options.gapMs} ms apart` : 'back to back'}), in ${blocks} traced blocks alternating with as many untraced ones`);
    const clients: ClientSpan[] = [];
    const control: number[] = [];
    const errors: string[] = [];
    const cpuBy = { traced: { bench: 0, offline: 0, ops: 0, ms: 0 }, control: { bench: 0, offline: 0, ops: 0, ms: 0 } };
    const offlinePid = cpu.offlinePid;
    if (options.cpuProf) {
      if (offlinePid === undefined) throw new Error("--cpu-prof: serverless-offline's process was not found");
      process.kill(offlinePid, 'SIGUSR2'); // start the profiler
      // This process too: the emulators, the pollers and the client.
      selfProfiler = new InspectorSession();
      selfProfiler.connect();
      await selfProfiler.post('Profiler.enable');
      await selfProfiler.post('Profiler.setSamplingInterval', { interval: 250 });
      await selfProfiler.post('Profiler.start');
      await sleep(300);
    }
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    let index = 0;
    let profiledTasks = 0;
    for (let block = 0; block < 2 * blocks; block += 1) {
      const tracing = block % 2 === 0;
      const size = tracing ? Math.min(BLOCK, options.tasks - clients.length) + 1 : BLOCK;
      recorder.enabled = tracing;
      const cpuBefore = await cpu.sample();
      const blockStart = performance.now();
      for (let k = 0; k < size; k += 1, index += 1) {
        const send = performance.now();
        const answer = await call('POST', '/tasks', { name: 'add', args: [index, 1] });
        const receive = performance.now();
        const task = answer.status === 200 ? (JSON.parse(answer.body) as { id?: string; state?: string; result?: unknown }) : undefined;
        if (task?.state === 'SUCCESS' && task.result === index + 1 && task.id) {
          if (!tracing) control.push(receive - send);
          else if (k > 0) clients.push({ taskId: task.id, send, receive });
        } else {
          errors.push(`${answer.status} ${answer.body.slice(0, 120)}`);
        }
        if (options.gapMs > 0) await sleep(options.gapMs);
      }
      const blockMs = performance.now() - blockStart;
      const cpuAfter = await cpu.sample();
      const into = tracing ? cpuBy.traced : cpuBy.control;
      into.bench += cpuAfter.benchMs - cpuBefore.benchMs;
      into.offline += (cpuAfter.offlineMs ?? Number.NaN) - (cpuBefore.offlineMs ?? Number.NaN);
      into.ops += size;
      into.ms += blockMs;
      profiledTasks += size;
    }
    const toUs = Number(process.hrtime.bigint() / 1000n);
    window = { fromUs, toUs, tasks: profiledTasks };
    recorder.enabled = false;
    if (options.cpuProf) {
      process.kill(offlinePid!, 'SIGUSR2'); // stop it and write the profile
      selfProfile = ((await selfProfiler!.post('Profiler.stop')) as { profile: CpuProfile }).profile;
      selfProfiler!.disconnect();
      await writeFile(join(profileDir, `bench-${process.pid}.cpuprofile`), JSON.stringify(selfProfile));
      maps = await copySourceMaps(profileDir);
      const file = join(profileDir, `${offlinePid}.cpuprofile`);
      for (let waited = 0; waited < 20_000 && !(await readFile(file).then(() => true, () => false)); waited += 100) await sleep(100);
    }
    await sleep(500); // the last traced task's invocation has long ended; this is for its delete and next poll
    const blockCpu = (c: typeof cpuBy.traced) =>
      phaseCpu({ benchMs: 0, offlineMs: 0 }, { benchMs: c.bench, offlineMs: Number.isNaN(c.offline) ? undefined : c.offline }, c.ops, c.ms, cores);

    const { traces, rejected } = correlate(clients, recorder.exchanges, recorder.invokes);
    const receivesAnsweredPerTask: Record<number, number> = {};
    for (const trace of traces) receivesAnsweredPerTask[trace.receivesAnswered] = (receivesAnsweredPerTask[trace.receivesAnswered] ?? 0) + 1;
    result = {
      startedAt,
      options,
      floor: { n: floor.latenciesMs.length, ...summarize(floor.latenciesMs), cpu: floorCpu },
      sync: {
        n: clients.length,
        errors: errors.length,
        ...summarize(clients.map((client) => client.receive - client.send)),
        cpu: blockCpu(cpuBy.traced),
      },
      control: { n: control.length, ...summarize(control), cpu: blockCpu(cpuBy.control) },
      rejected,
      receivesAnsweredPerTask,
      breakdown: breakdown(traces),
      // Per task, every segment in ms (for other quantiles, or to tune the wait loop from).
      tasks: traces.map((trace) => ({
        reads: trace.gets.length,
        ...Object.fromEntries([...CRITICAL_PATH, ...SIDE_FIGURES].map((segment) => [segment.key, Math.round(segment.ms(trace) * 1000) / 1000])),
      })),
    };
    if (errors.length > 0) log(`${errors.length} tasks did not answer 200 SUCCESS: ${errors.slice(0, 3).join(' | ')}`);
  } finally {
    log('stopping the local stack');
    await bench.stop();
  }

  let profile: TraceResult['profile'];
  let benchProfile: TraceResult['benchProfile'];
  if (options.cpuProf && window) {
    const files = (await readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile') && !file.startsWith('bench-'));
    // The serverless-offline process is the one whose profile covers the traced phase.
    for (const file of files) {
      const data = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile;
      if (data.startTime > window.fromUs || data.endTime < window.toUs) {
        log(`profile ${file} (${data.startTime} to ${data.endTime} µs) does not cover the phase (${window.fromUs} to ${window.toUs} µs)`);
        continue;
      }
      const sourceMaps = new Map<string, SourceMap>();
      for (const [bundle, mapFile] of maps) sourceMaps.set(bundle, new SourceMap(JSON.parse(await readFile(mapFile, 'utf8'))));
      const attribution = attribute(data, window.fromUs, window.toUs, sourceMaps);
      // Every task in the window, traced or not, lead-ins included: the profile covers them all.
      const tasks = Math.max(window.tasks, 1);
      const per = (ms: number) => Math.round((ms / tasks) * 1000) / 1000;
      const perTask = (figures: Record<string, number>) =>
        Object.fromEntries(Object.entries(figures).sort(([, a], [, b]) => b - a).map(([name, ms]) => [name, per(ms)]));
      profile = {
        sampledMsPerTask: per(attribution.sampledMs),
        msPerTaskByOwner: perTask(attribution.byOwner),
        msPerTaskBySdkPackage: perTask(attribution.bySdkPackage),
        msPerTaskByFunction: perTask(attribution.byFunction),
      };
      log(`profile: ${file}`);
    }
    if (!profile) log(`no CPU profile in ${profileDir} covers the traced phase`);
    if (selfProfile) {
      const attribution = attribute(selfProfile, window.fromUs, window.toUs, new Map());
      const per = (ms: number) => Math.round((ms / Math.max(window.tasks, 1)) * 1000) / 1000;
      const perTask = (figures: Record<string, number>) =>
        Object.fromEntries(Object.entries(figures).sort(([, a], [, b]) => b - a).map(([name, ms]) => [name, per(ms)]));
      benchProfile = {
        sampledMsPerTask: per(attribution.sampledMs),
        msPerTaskByOwner: perTask(attribution.byOwner),
        msPerTaskBySdkPackage: perTask(attribution.bySdkPackage),
      };
    }
  }

  const report: TraceResult = { ...result, ...(profile && { profile }), ...(benchProfile && { benchProfile }), environment: await describeEnvironment(startedAt) };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(toMarkdown(report));
  log(`result in ${values.out}`);
  if (report.sync.errors > 0) process.exitCode = 1;
}

const f = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–');

function toMarkdown(report: TraceResult): string {
  const b = report.breakdown;
  const row = (segment: SegmentFigure) => `| ${segment.label} | ${f(segment.p50)} | ${f(segment.p90)} | ${f(segment.mean)} |`;
  const lines = [
    `Trace of ${report.sync.n} sync tasks at c=1 (${report.options.gapMs ? `${report.options.gapMs} ms apart` : 'back to back'}), ${b.tasks} correlated` +
      (report.rejected.length ? `, ${report.rejected.length} rejected (${[...new Set(report.rejected.map((r) => r.reason))].join('; ')})` : '') +
      `; ${report.sync.errors} errors. ${report.startedAt}.`,
    '',
    `Sync latency, traced: p50 ${f(report.sync.p50)}, p90 ${f(report.sync.p90)}, p99 ${f(report.sync.p99)}, mean ${f(report.sync.mean)} ms; ` +
      `untraced (${report.control.n}, in alternating blocks): p50 ${f(report.control.p50)}, p90 ${f(report.control.p90)}, p99 ${f(report.control.p99)}, mean ${f(report.control.mean)} ms. ` +
      `Floor (same run, ${report.floor.n} at c=1): p50 ${f(report.floor.p50)}, p90 ${f(report.floor.p90)}, mean ${f(report.floor.mean)} ms.`,
    '',
    '| Step (critical path, in order) | p50 ms | p90 ms | mean ms |',
    '|---|--:|--:|--:|',
    ...b.criticalPath.map(row),
    `| **sum of the means (= mean latency)** | | | **${f(b.sumOfMeans)}** |`,
    '',
    '| Beside the path | p50 ms | p90 ms | mean ms |',
    '|---|--:|--:|--:|',
    ...b.side.map(row),
    row(b.readService),
    '',
    `Wait-loop reads per task (the last one saw SUCCESS): ${Object.entries(b.readsPerTask).map(([reads, tasks]) => `${reads} read${reads === '1' ? '' : 's'}: ${tasks}`).join(', ')}; mean ${f(b.meanReads)}.`,
    `Sync latency by reads: ${Object.entries(b.latencyByReads).map(([reads, l]) => `${reads} read${reads === '1' ? '' : 's'} (${l.n}): p50 ${f(l.p50)}, p90 ${f(l.p90)} ms`).join('; ')}.`,
    `ReceiveMessage answers between the send and the invocation, per task: ${Object.entries(report.receivesAnsweredPerTask).map(([n, tasks]) => `${n}: ${tasks}`).join(', ')}.`,
    `CPU per task, bench process / serverless-offline: traced blocks ${f(report.sync.cpu.benchMsPerOp)} / ${f(report.sync.cpu.offlineMsPerOp ?? Number.NaN)} ms, ` +
      `untraced ${f(report.control.cpu.benchMsPerOp)} / ${f(report.control.cpu.offlineMsPerOp ?? Number.NaN)} ms; ` +
      `floor ${f(report.floor.cpu.benchMsPerOp)} / ${f(report.floor.cpu.offlineMsPerOp ?? Number.NaN)} ms.`,
  ];
  if (report.profile) {
    lines.push(
      '',
      `serverless-offline CPU per task by code (V8 profile over the traced and untraced blocks, per task run in them; ${f(report.profile.sampledMsPerTask)} ms sampled per task, idle included):`,
      '',
      '| Code (nearest non-Node-internal frame) | ms per task |',
      '|---|--:|',
      ...Object.entries(report.profile.msPerTaskByOwner).map(([name, ms]) => `| ${name} | ${f(ms)} |`),
      '',
      '| Within the AWS SDK, by package | ms per task |',
      '|---|--:|',
      ...Object.entries(report.profile.msPerTaskBySdkPackage).map(([name, ms]) => `| ${name} | ${f(ms)} |`),
      '',
      '| Busy samples by the function bundle on the stack | ms per task |',
      '|---|--:|',
      ...Object.entries(report.profile.msPerTaskByFunction).map(([name, ms]) => `| ${name} | ${f(ms)} |`),
    );
  }
  if (report.benchProfile) {
    lines.push(
      '',
      `Bench process CPU per task by code (emulators, pollers, client; same window; ${f(report.benchProfile.sampledMsPerTask)} ms sampled per task, idle included):`,
      '',
      '| Code (nearest non-Node-internal frame) | ms per task |',
      '|---|--:|',
      ...Object.entries(report.benchProfile.msPerTaskByOwner).map(([name, ms]) => `| ${name} | ${f(ms)} |`),
      '',
      '| Within the AWS SDK (the pollers), by package | ms per task |',
      '|---|--:|',
      ...Object.entries(report.benchProfile.msPerTaskBySdkPackage).map(([name, ms]) => `| ${name} | ${f(ms)} |`),
    );
  }
  const changed = report.environment.sourcesChangedDuringRun;
  lines.push('', changed.length ? `Sources changed during the run (do not quote it): ${changed.join(', ')}` : 'No source changed during the run.');
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
