import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PerTaskCalls } from './call-counter.ts';
import type { BenchResult, LatencyPhase } from './benchmark.ts';
import { lifecycleSection } from './lifecycle-report.ts';
import type { LoginFloodResult } from './login-flood.ts';
import { fixed, ms } from './report-format.ts';
import { webhooksSection } from './webhooks-report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The packages whose versions decide the figures: the emulation, the emulators, the app's libraries. */
const PACKAGES = [
  'serverless',
  'serverless-offline',
  'serverless-esbuild',
  'esbuild',
  'fauxqs',
  'dynalite',
  'hono',
  'jose',
  'zod',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/lib-dynamodb',
  '@aws-lambda-powertools/logger',
  'tsx',
] as const;

export interface Environment {
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number; readonly platform: string };
  readonly node: string;
  /** Installed versions (node_modules), by package name; `serverless` is osls. */
  readonly packages: Record<string, string>;
  /** The commit measured, and whether the working tree had changes on top of it. */
  readonly commit: { readonly id: string; readonly dirty: boolean } | undefined;
  /**
   * Sources modified while the benchmark ran. serverless-esbuild watches them under `serverless
   * offline`: each change rebuilds the bundles and reloads the functions (cold starts mid-phase).
   */
  readonly sourcesChangedDuringRun: readonly string[];
}

export interface BenchReport extends BenchResult {
  readonly schema: 'doozer-bench/1';
  readonly environment: Environment;
}

/** Where the sources are that serverless-esbuild's watcher reacts to (every .js and .ts outside node_modules and build output). */
const WATCHED_FOLDERS = ['handlers', 'lib', 'local', 'test', 'bench', 'client/src'];

/** Source files modified after `sinceMs` (epoch ms). */
async function sourcesChangedSince(sinceMs: number): Promise<string[]> {
  const changed: string[] = [];
  for (const folder of WATCHED_FOLDERS) {
    const entries = await readdir(join(ROOT, folder), { recursive: true }).catch(() => [] as string[]);
    for (const entry of entries) {
      if (!/\.(js|ts)$/.test(entry)) continue;
      const file = join(folder, entry);
      const modified = await stat(join(ROOT, file)).then((info) => info.mtimeMs, () => 0);
      if (modified > sinceMs) changed.push(file);
    }
  }
  return changed.sort();
}

export async function describeEnvironment(runStartedAt: string): Promise<Environment> {
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    try {
      const manifest = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        name: string;
        version: string;
      };
      packages[name] = manifest.name === name ? manifest.version : `${manifest.name}@${manifest.version}`;
    } catch {
      packages[name] = 'not installed';
    }
  }
  const processors = cpus();
  return {
    machine: {
      cpu: processors[0]?.model.trim() ?? 'unknown',
      cores: processors.length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      platform: `${process.platform} ${process.arch}`,
    },
    node: process.version,
    packages,
    commit: gitCommit(),
    sourcesChangedDuringRun: await sourcesChangedSince(Date.parse(runStartedAt)),
  };
}

function gitCommit(): Environment['commit'] {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { id: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return undefined;
  }
}

/** Writes `latest.json` and `latest.md` to `dir`; returns the Markdown. */
export async function writeReport(report: BenchReport, dir: string): Promise<string> {
  const markdown = toMarkdown(report);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'latest.md'), markdown);
  return markdown;
}

/**
 * The latest full run's table, committed: BENCHMARKS.md links it, and its history is the file's
 * history in git (`git log -p bench/LATEST.md`), so no run needs to be copied into prose.
 */
export const LATEST_FILE = join(ROOT, 'bench', 'LATEST.md');

/** Why `report` may not stand as the latest run (a failure, a source edited mid-run), or nothing. */
export function reasonNotToPublish(report: BenchReport, failures: number): string | undefined {
  if (failures > 0) return `${failures} failures`;
  const changed = report.environment.sourcesChangedDuringRun;
  if (changed.length > 0) return `sources changed during the run (${changed.slice(0, 3).join(', ')}${changed.length > 3 ? '…' : ''})`;
  return undefined;
}

/** Writes `markdown` (toMarkdown's) to LATEST_FILE, under a heading that says what the file is. */
export async function publishLatest(markdown: string): Promise<void> {
  const preface = [
    '# The latest benchmark run',
    '',
    'Written by `npm run bench` at the end of a full run (the default counts, no `--out`, no failure, no source',
    'edited during the run); what each figure means, the targets and how to reproduce them are in',
    '[BENCHMARKS.md](../BENCHMARKS.md). Earlier runs are in git: `git log -p bench/LATEST.md`.',
    '',
  ];
  await writeFile(LATEST_FILE, `${preface.join('\n')}\n${markdown.trimEnd()}\n`);
}

export function toMarkdown(report: BenchReport): string {
  const { environment: env, counts, floor, sync, deferred, calls } = report;
  const c = counts.concurrency;
  const lines: string[] = [];
  lines.push(`## doozer benchmark, ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`, '');
  lines.push(
    `${env.machine.cpu}, ${env.machine.cores} cores, ${env.machine.memoryGiB} GiB, ${env.machine.platform}; Node ${env.node}; ` +
      `commit ${env.commit ? `${env.commit.id}${env.commit.dirty ? ' with uncommitted changes' : ''}` : 'unknown'}. ` +
      `Local stack ready in ${report.stackReadySeconds} s; serverless-offline request log ${report.offlineLog ? 'on (as npm start)' : 'off'}.`,
    '',
    `\`npm start\` (npm, tsx, emulators, serverless-offline, pollers), ${report.startup.runs.length} timed start(s) on free ports, stopped with Ctrl-C between: ` +
      `/health answered after ${report.startup.healthP50Seconds.toFixed(2)} s (median; runs ${report.startup.runs.map((run) => run.healthSeconds.toFixed(2)).join(', ')}), ` +
      `the banner (workers polling) after ${report.startup.readyP50Seconds.toFixed(2)} s.`,
    '',
  );
  lines.push(
    '| Measure | n | errors | p50 ms | p90 ms | p99 ms | max ms | per s | p50 ÷ floor | p99 ÷ floor | per s ÷ floor |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    phaseRow('Floor, c=1: `POST /bench/floor` (same server and auth, add inline)', floor.c1),
    phaseRow('Sync, c=1: `POST /tasks` add until the 200', sync.c1),
    phaseRow(`Floor, c=${c}`, floor.concurrent),
    phaseRow(`Sync, c=${c}: tasks/s completed with 200`, sync.concurrent),
    phaseRow(`Deferred, c=1: \`?wait=0\` 202, then \`GET /tasks/<id>?wait=5\` until SUCCESS (lookups per task: ${deferred.lookupsPerTask})`, deferred),
    '',
  );
  if (env.sourcesChangedDuringRun.length > 0) {
    lines.push(
      `**Sources changed during the run, so serverless-esbuild rebuilt and reloaded the functions mid-run: ${env.sourcesChangedDuringRun.join(', ')}.**`,
      '',
    );
  }
  const cpuRow = (label: string, phase: LatencyPhase) => {
    const { cpu } = phase;
    const value = (figure: number | undefined, digits: number) => (figure === undefined ? 'n/a' : figure.toFixed(digits));
    return `| ${label} | ${value(cpu.benchMsPerOp, 2)} | ${value(cpu.offlineMsPerOp, 2)} | ${value(cpu.totalMsPerOp, 2)} | ${value(cpu.coresBusy, 2)} | ${value(cpu.cpuCeilingPerSecond, 0)} | ${phase.perSecond.toFixed(0)} |`;
  };
  lines.push(
    'CPU per operation over each phase, in ms (from /proc): this process runs the emulators, the event-source pollers and the load generator; serverless-offline runs the HTTP and Lambda emulation and the functions. The CPU ceiling is what the busier process (one JavaScript thread each) or the cores would allow at that cost; it is approximate, since GC and libuv threads run beside each main thread:',
    '',
    '| Phase | bench process | serverless-offline | total | cores busy | CPU ceiling per s | measured per s |',
    '|---|--:|--:|--:|--:|--:|--:|',
    cpuRow('Floor, c=1', floor.c1),
    cpuRow('Sync, c=1', sync.c1),
    cpuRow(`Floor, c=${c}`, floor.concurrent),
    cpuRow(`Sync, c=${c}`, sync.concurrent),
    cpuRow('Deferred, c=1', deferred),
    '',
  );
  const truncated = [floor.c1, sync.c1, floor.concurrent, sync.concurrent, deferred].some((phase) => phase.truncated);
  if (truncated) lines.push('**A phase hit its time bound and stopped early (n is what it completed).**', '');

  const columns: [string, PerTaskCalls][] = [
    [`sync c=1 (${calls.syncC1.tasks})`, calls.syncC1],
    [`sync c=${c} (${calls.syncConcurrent.tasks})`, calls.syncConcurrent],
    [`deferred (${calls.deferred.tasks})`, calls.deferred],
    [`floor c=1 (${calls.floorC1.tasks})`, calls.floorC1],
  ];
  const callNames = [...new Set(columns.flatMap(([, per]) => Object.keys(per.byCall)))].sort();
  const functions = [...new Set(columns.flatMap(([, per]) => Object.keys(per.lambda.byFunction)))].sort();
  lines.push(
    'Calls per task, counted over each phase (emulator requests by X-Amz-Target; Lambda = API requests + event-source invocations; a batched call counts 1/N for each of its N messages):',
    '',
    `| Call | ${columns.map(([name]) => name).join(' | ')} |`,
    `|---|${columns.map(() => '--:').join('|')}|`,
    ...callNames.map((name) => `| ${name} | ${columns.map(([, per]) => fixed(per.byCall[name] ?? 0)).join(' | ')} |`),
    `| **SQS calls** | ${columns.map(([, per]) => `**${fixed(per.sqs)}**`).join(' | ')} |`,
    `| **DynamoDB reads** | ${columns.map(([, per]) => `**${fixed(per.dynamodbReads)}**`).join(' | ')} |`,
    `| **DynamoDB writes** | ${columns.map(([, per]) => `**${fixed(per.dynamodbWrites)}**`).join(' | ')} |`,
    `| **AWS calls (SQS + DynamoDB)** | ${columns.map(([, per]) => `**${fixed(per.aws)}**`).join(' | ')} |`,
    `| Lambda: api, or the bench's floor function (one per API request) | ${columns.map(([, per]) => fixed(per.lambda.api)).join(' | ')} |`,
    ...functions.map(
      (name) => `| Lambda: ${name} (event source) | ${columns.map(([, per]) => fixed(per.lambda.byFunction[name] ?? 0)).join(' | ')} |`,
    ),
    `| **Lambda invocations** | ${columns.map(([, per]) => `**${fixed(per.lambda.total)}**`).join(' | ')} |`,
    ...functions.map(
      (name) => `| records per ${name} invocation | ${columns.map(([, per]) => fixed(per.recordsPerInvocation[name] ?? 0, 2)).join(' | ')} |`,
    ),
    '',
  );
  lines.push(...lifecycleSection(report.lifecycle, c), '');
  lines.push(...webhooksSection(report.webhooks), '');
  lines.push(...ceilingSection(report), '');
  lines.push(...loginFloodSection(report), '');
  lines.push(
    `Versions: ${Object.entries(env.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
  );
  return `${lines.join('\n')}`;
}

/** The unit costs, and the ceiling they add up to against what the sync phases used and did. */
function ceilingSection(report: BenchReport): string[] {
  const { unitCosts, ceiling, sync, counts } = report;
  const c = counts.concurrency;
  const lines = [
    `Unit costs, ${counts.unitCalls} calls of each kind at c=${unitCosts.concurrency} against the same emulators: the client's CPU per call (a child process with the functions' clients) and the bench process's (the emulator serving it), in ms:`,
    '',
    '| Call | client CPU | emulator CPU | wall per call |',
    '|---|--:|--:|--:|',
    ...Object.entries(unitCosts.byKind).map(
      ([kind, cost]) => `| ${kind} | ${cost.clientMs.toFixed(3)} | ${cost.emulatorMs.toFixed(3)} | ${cost.wallMs.toFixed(3)} |`,
    ),
    '',
    'The CPU ceiling built up from them: each call counted per sync task × its unit cost, each Lambda invocation × the floor request\'s serverless-offline CPU (one emulation) at the same concurrency, each API request × the load generator\'s CPU per floor request:',
    '',
    `| Sync phase | model: serverless-offline ms/task | measured | model: bench process ms/task | measured | ceiling tasks/s (limit) | measured tasks/s | measured ÷ ceiling |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const row = (label: string, model: BenchReport['ceiling']['syncC1'], phase: LatencyPhase) =>
    `| ${label} | ${model.offlineMsPerTask.toFixed(2)} | ${phase.cpu.offlineMsPerOp?.toFixed(2) ?? 'n/a'} | ${model.benchMsPerTask.toFixed(2)} | ${phase.cpu.benchMsPerOp.toFixed(2)} | ${model.perSecond.toFixed(0)} (${model.limit}) | ${phase.perSecond.toFixed(0)} | ${(phase.perSecond / model.perSecond).toFixed(2)} |`;
  lines.push(row('c=1', ceiling.syncC1, sync.c1), row(`c=${c}`, ceiling.syncConcurrent, sync.concurrent), '');
  lines.push(
    `Where the modelled CPU of a sync task at c=${c} goes:`,
    '',
    '| Process | Work | per task | ms each | ms per task |',
    '|---|---|--:|--:|--:|',
    ...ceiling.syncConcurrent.terms.map((t) => `| ${t.process} | ${t.what} | ${t.count.toFixed(3)} | ${t.msEach.toFixed(3)} | ${t.ms.toFixed(3)} |`),
  );
  return lines;
}

function phaseRow(label: string, phase: LatencyPhase): string {
  const ratio = phase.toFloor;
  return `| ${label} | ${phase.completed} | ${phase.errors} | ${ms(phase.p50)} | ${ms(phase.p90)} | ${ms(phase.p99)} | ${ms(phase.max)} | ${phase.perSecond.toFixed(0)} | ${ratio ? `${ratio.p50.toFixed(1)}×` : '1×'} | ${ratio ? `${ratio.p99.toFixed(1)}×` : '1×'} | ${ratio ? ratio.perSecond.toFixed(2) : '1'} |`;
}

/** Sync task latency beside the login floods, against idle in the same run. */
function loginFloodSection(report: BenchReport): string[] {
  const { idle, floods } = report.loginFlood;
  const row = (label: string, tasks: LoginFloodResult['idle'], extra: string[]) =>
    `| ${label} | ${tasks.completed} | ${tasks.errors} | ${tasks.p50.toFixed(1)} | ${tasks.p99.toFixed(1)} | ${extra.join(' | ')} |`;
  return [
    `Sync tasks at c=1 while failed logins with ever-new user names arrive as fast as they are answered (each new name costs a full password check); p50 ÷ idle compares medians of the same run:`,
    '',
    '| Sync tasks | n | errors | p50 ms | p99 ms | p50 ÷ idle | logins/s answered | login answers |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    row('idle', idle, ['1.00', '', '']),
    ...floods.map((flood) =>
      row(`flood from ${flood.label}, c=${flood.concurrency}`, flood.tasks, [
        flood.p50Ratio.toFixed(2),
        String(flood.loginsPerSecond),
        Object.entries(flood.loginStatuses)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([status, count]) => `${status} × ${count}`)
          .join(', '),
      ]),
    ),
  ];
}
