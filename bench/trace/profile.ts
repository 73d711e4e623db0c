import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { Session as InspectorSession } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run bench:trace -- --cpu-prof`: V8's sampling profiler in both processes over the traced
 * blocks (serverless-offline's started and stopped by SIGUSR2 through bench/cpu-profile-preload.cjs,
 * since Node 20 refuses --cpu-prof in NODE_OPTIONS; this one's through the inspector), and each
 * sample attributed to the code it was in, through the bundles' source maps.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the profiles and the copied source maps go. */
export const PROFILE_DIR = join(ROOT, 'bench', 'results', 'trace-profile');
/** Sampling interval, µs. */
const INTERVAL_US = 250;

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
    if (own[1] === 'bench') return { owner: 'the bench (bench/: load client, trace recorder, floor route)', detail };
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

/** CPU ms per task by code, from one process's profile over the traced window. */
export interface ProfileFigures {
  readonly sampledMsPerTask: number;
  readonly msPerTaskByOwner: Record<string, number>;
  readonly msPerTaskBySdkPackage: Record<string, number>;
  readonly msPerTaskByFunction?: Record<string, number>;
}

/** The window profiled: V8's monotonic clock (µs, process.hrtime's on Linux), and the tasks run in it. */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
  readonly tasks: number;
}

/** Profiling of both processes, started and stopped around the traced blocks. */
export class CpuProfiling {
  #self: InspectorSession | undefined;
  #selfProfile: CpuProfile | undefined;
  #maps = new Map<string, string>();
  #offlinePid: number | undefined;

  /**
   * Before the stack starts: an empty profile folder, and the preload that serverless-offline (a
   * child, which inherits this environment) runs. Undo with `afterStackStart`: only the child reads them.
   */
  static async beforeStackStart(): Promise<void> {
    await rm(PROFILE_DIR, { recursive: true, force: true });
    await mkdir(PROFILE_DIR, { recursive: true });
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${join(ROOT, 'bench', 'cpu-profile-preload.cjs')}`.trim();
    process.env.DOOZER_CPU_PROFILE_DIR = PROFILE_DIR;
    process.env.DOOZER_CPU_PROFILE_INTERVAL_US = String(INTERVAL_US);
  }

  static afterStackStart(): void {
    delete process.env.NODE_OPTIONS;
    delete process.env.DOOZER_CPU_PROFILE_DIR;
    delete process.env.DOOZER_CPU_PROFILE_INTERVAL_US;
  }

  /** Starts both profilers: serverless-offline's (`offlinePid`) and this process's. */
  async start(offlinePid: number | undefined): Promise<void> {
    if (offlinePid === undefined) throw new Error("--cpu-prof: serverless-offline's process was not found");
    this.#offlinePid = offlinePid;
    process.kill(offlinePid, 'SIGUSR2');
    this.#self = new InspectorSession();
    this.#self.connect();
    await this.#self.post('Profiler.enable');
    await this.#self.post('Profiler.setSamplingInterval', { interval: INTERVAL_US });
    await this.#self.post('Profiler.start');
    await sleep(300);
  }

  /** Stops both, writes this process's profile, copies the source maps, and waits for the child's profile. */
  async stop(): Promise<void> {
    process.kill(this.#offlinePid!, 'SIGUSR2');
    this.#selfProfile = ((await this.#self!.post('Profiler.stop')) as { profile: CpuProfile }).profile;
    this.#self!.disconnect();
    await writeFile(join(PROFILE_DIR, `bench-${process.pid}.cpuprofile`), JSON.stringify(this.#selfProfile));
    this.#maps = await copySourceMaps(PROFILE_DIR);
    const file = join(PROFILE_DIR, `${this.#offlinePid}.cpuprofile`);
    for (let waited = 0; waited < 20_000 && !(await readFile(file).then(() => true, () => false)); waited += 100) await sleep(100);
  }

  /** Each process's samples in `window`, by code, per task run in it (traced or not, lead-ins included). */
  async figures(window: ProfileWindow, log: (line: string) => void): Promise<{ offline?: ProfileFigures; bench?: ProfileFigures }> {
    const per = (ms: number) => Math.round((ms / Math.max(window.tasks, 1)) * 1000) / 1000;
    const perTask = (figures: Record<string, number>) =>
      Object.fromEntries(Object.entries(figures).sort(([, a], [, b]) => b - a).map(([name, ms]) => [name, per(ms)]));
    let offline: ProfileFigures | undefined;
    const files = (await readdir(PROFILE_DIR)).filter((file) => file.endsWith('.cpuprofile') && !file.startsWith('bench-'));
    // The serverless-offline process is the one whose profile covers the traced phase.
    for (const file of files) {
      const data = JSON.parse(await readFile(join(PROFILE_DIR, file), 'utf8')) as CpuProfile;
      if (data.startTime > window.fromUs || data.endTime < window.toUs) {
        log(`profile ${file} (${data.startTime} to ${data.endTime} µs) does not cover the phase (${window.fromUs} to ${window.toUs} µs)`);
        continue;
      }
      const sourceMaps = new Map<string, SourceMap>();
      for (const [bundle, mapFile] of this.#maps) sourceMaps.set(bundle, new SourceMap(JSON.parse(await readFile(mapFile, 'utf8'))));
      const attribution = attribute(data, window.fromUs, window.toUs, sourceMaps);
      offline = {
        sampledMsPerTask: per(attribution.sampledMs),
        msPerTaskByOwner: perTask(attribution.byOwner),
        msPerTaskBySdkPackage: perTask(attribution.bySdkPackage),
        msPerTaskByFunction: perTask(attribution.byFunction),
      };
      log(`profile: ${file}`);
    }
    if (!offline) log(`no CPU profile in ${PROFILE_DIR} covers the traced phase`);
    let bench: ProfileFigures | undefined;
    if (this.#selfProfile) {
      const attribution = attribute(this.#selfProfile, window.fromUs, window.toUs, new Map());
      bench = {
        sampledMsPerTask: per(attribution.sampledMs),
        msPerTaskByOwner: perTask(attribution.byOwner),
        msPerTaskBySdkPackage: perTask(attribution.bySdkPackage),
      };
    }
    return { ...(offline && { offline }), ...(bench && { bench }) };
  }
}
