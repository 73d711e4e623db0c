import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PerTaskCalls } from './call-counter.ts';
import type { BenchResult, LatencyPhase } from './benchmark.ts';
import type { LifecycleResult, LifecycleSideSummary } from './lifecycle.ts';
import type { LoginFloodResult } from './login-flood.ts';
import type { WebhookResult, WebhookSideSummary } from './webhooks.ts';

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

export function toMarkdown(report: BenchReport): string {
  const { environment: env, counts, floor, sync, deferred, calls } = report;
  const c = counts.concurrency;
  const lines: string[] = [];
  lines.push(`### doozer benchmark, ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`, '');
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
    `| Lambda: api (one per API request) | ${columns.map(([, per]) => fixed(per.lambda.api)).join(' | ')} |`,
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

function ms(value: number): string {
  return Number.isNaN(value) ? 'n/a' : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function fixed(value: number, digits = 3): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
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

/** Batches against single submissions: accepted and completed per second, medians of the rounds, and the ratios. */
export function lifecycleSection(lifecycle: LifecycleResult, concurrency: number): string[] {
  const { batch, single, ratio, target, met } = lifecycle;
  const perSecond = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(0));
  const seconds = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(2));
  const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');
  const row = (label: string, side: LifecycleSideSummary) =>
    `| ${label} | ${side.completed} | ${side.errors} | ${ms(side.requestP50Ms)} | ${seconds(side.submitSeconds)} | ${perSecond(side.acceptedPerSecond)} | ${seconds(side.completeSeconds)} | ${perSecond(side.completedPerSecond)} | ${seconds(side.drainSeconds)} | ${side.listRequests} |`;
  const verdict = (value: number, ok: boolean) => `**${times(value)}** (${ok ? 'met' : 'not met'})`;
  const lines = [
    `Task lifecycle, batches against single submissions: ${lifecycle.tasksPerSide} add tasks a side in each of ${lifecycle.rounds} round(s), the sides' order alternating; ` +
      'figures are medians of the rounds, counts are sums. Accepted/s: tasks acknowledged ÷ the submissions\' wall time (first request sent to last answer). ' +
      'Completed/s: tasks SUCCESS with the right sum ÷ the time from the first request to the latest `updatedAt` of the side\'s tasks (the worker\'s SUCCESS write). ' +
      `Completion is read by listing \`GET /tasks?limit=100\` newest first: walked once after the submissions, then the oldest page still open again every ${lifecycle.pollIntervalMs} ms (its requests are in the counts):`,
    '',
    '| Side | tasks completed | errors | request p50 ms | submitted in s | accepted/s | completed in s | completed/s | last SUCCESS after the last answer, s | list requests |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    row(`Batches: \`POST /tasks/batch\` of ${batch.tasksPerRequest}, c=${batch.concurrency}`, batch),
    row(`Single: \`POST /tasks?wait=0\`, c=${single.concurrency}`, single),
    `| **Batches ÷ single** (target ${target}×) | | | | | ${verdict(ratio.accepted, met.accepted)} | | ${verdict(ratio.completed, met.completed)} | | |`,
    '',
  ];
  if (batch.truncated || single.truncated) lines.push('**A side hit its time bound and stopped early.**', '');
  if (lifecycle.rounds > 1) {
    lines.push(
      'Each round, in the order run:',
      '',
      '| Round | side | accepted/s | completed/s | last SUCCESS after the last answer, s | errors |',
      '|--:|---|--:|--:|--:|--:|',
      ...lifecycle.runs.map(
        (run) => `| ${run.round + 1} | ${run.side} | ${perSecond(run.acceptedPerSecond)} | ${perSecond(run.completedPerSecond)} | ${seconds(run.drainSeconds)} | ${run.errors} |`,
      ),
      '',
    );
  }
  const sides: [string, LifecycleSideSummary][] = [
    [`batches (${batch.calls.tasks})`, batch],
    [`single c=${concurrency} (${single.calls.tasks})`, single],
  ];
  const cpu = (pick: (side: LifecycleSideSummary) => number | undefined, digits: number) =>
    sides.map(([, side]) => {
      const value = pick(side);
      return value === undefined ? 'n/a' : value.toFixed(digits);
    });
  const both = (submit: (side: LifecycleSideSummary) => number | undefined, whole: (side: LifecycleSideSummary) => number | undefined, digits: number) => {
    const a = cpu(submit, digits);
    const b = cpu(whole, digits);
    return a.map((value, index) => `${value} / ${b[index]}`).join(' | ');
  };
  const callNames = [...new Set(sides.flatMap(([, side]) => Object.keys(side.calls.byCall)))].sort();
  const functions = [...new Set(sides.flatMap(([, side]) => Object.keys(side.calls.lambda.byFunction)))].sort();
  lines.push(
    'Where each side\'s work goes, per task (completed tasks in brackets, all rounds): CPU in ms over the submissions (per accepted task) / from the first request to the last task seen done (per completed task), and the calls counted over the side:',
    '',
    `| Per task | ${sides.map(([name]) => name).join(' | ')} |`,
    `|---|${sides.map(() => '--:').join('|')}|`,
    `| CPU, bench process (emulators, pollers, load): submission / whole | ${both((s) => s.cpu.submit.benchMsPerOp, (s) => s.cpu.whole.benchMsPerOp, 2)} |`,
    `| CPU, serverless-offline (HTTP and Lambda emulation, functions): submission / whole | ${both((s) => s.cpu.submit.offlineMsPerOp, (s) => s.cpu.whole.offlineMsPerOp, 2)} |`,
    `| cores busy: submission / whole | ${both((s) => s.cpu.submit.coresBusy, (s) => s.cpu.whole.coresBusy, 2)} |`,
    `| CPU ceiling, tasks/s: submission / whole | ${both((s) => s.cpu.submit.cpuCeilingPerSecond, (s) => s.cpu.whole.cpuCeilingPerSecond, 0)} |`,
    ...callNames.map((name) => `| ${name} | ${sides.map(([, side]) => fixed(side.calls.byCall[name] ?? 0)).join(' | ')} |`),
    `| **AWS calls (SQS + DynamoDB)** | ${sides.map(([, side]) => `**${fixed(side.calls.aws)}**`).join(' | ')} |`,
    `| Lambda: api (one per API request, list requests included) | ${sides.map(([, side]) => fixed(side.calls.lambda.api)).join(' | ')} |`,
    ...functions.map((name) => `| Lambda: ${name} (event source) | ${sides.map(([, side]) => fixed(side.calls.lambda.byFunction[name] ?? 0)).join(' | ')} |`),
    ...functions.map(
      (name) => `| records per ${name} invocation | ${sides.map(([, side]) => fixed(side.calls.recordsPerInvocation[name] ?? 0, 2)).join(' | ')} |`,
    ),
    '',
    'The worker\'s invocations by the SQS event source (one receive loop per queue, up to 16 invocations at once), each timed in this process from the call to serverless-offline\'s Lambda API to its answer; at once = their summed time ÷ the completion time:',
    '',
    `| Worker invocations | ${sides.map(([name]) => name).join(' | ')} |`,
    `|---|${sides.map(() => '--:').join('|')}|`,
    `| invocations | ${sides.map(([, side]) => side.workers.invocations).join(' | ')} |`,
    `| per s, first request to last SUCCESS (median of the rounds) | ${sides.map(([, side]) => perSecond(side.workers.perSecond)).join(' | ')} |`,
    `| mean ms each | ${sides.map(([, side]) => ms(side.workers.meanMs)).join(' | ')} |`,
    `| at once: mean / most | ${sides.map(([, side]) => `${fixed(side.workers.meanInFlight, 2)} / ${side.workers.peakInFlight}`).join(' | ')} |`,
  );
  return lines;
}

/** Sync tasks with a callbackUrl against without (the ratio of the medians), and the deliveries checked. */
export function webhooksSection(webhooks: WebhookResult): string[] {
  const { without, with: withCallback, ratio, delivery } = webhooks;
  const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');
  const row = (label: string, side: WebhookSideSummary) => `| ${label} | ${side.completed} | ${side.errors} | ${ms(side.p50Ms)} | ${ms(side.p99Ms)} |`;
  const lines = [
    `Completion webhooks: sync p50 with a callbackUrl against without. ${webhooks.tasksPerSide} sync add tasks at c=1 a side in each of ${webhooks.rounds} round(s), the sides' order alternating; ` +
      'p50 and p99 are medians of the rounds, counts are sums. With a callbackUrl the worker writes the end, then sends one message to the notifier\'s queue; ' +
      'the notifier POSTs the task to a receiver in the bench process on 127.0.0.1, which verifies each delivery\'s Standard Webhooks signature with the development secret. ' +
      `After each side with callbacks, its deliveries are awaited (at most ${webhooks.deliveryWaitMs / 1000} s) before the next side starts:`,
    '',
    '| Sync tasks, c=1: `POST /tasks` add until the 200 | n | errors | p50 ms | p99 ms |',
    '|---|--:|--:|--:|--:|',
    row('without a callbackUrl', without),
    row('with a callbackUrl (delivered by the notifier)', withCallback),
    `| **With ÷ without** | | | **${times(ratio.p50)}** | **${times(ratio.p99)}** |`,
    '',
    ...(webhooks.paced
      ? [
          `Paced: ${webhooks.paced.tasksPerSide} tasks a side in each round, each sent once the stack had made no call for 20 ms (the previous task's worker and delivery done), so no delivery shares the two cores with a task's path (on AWS the notifier is a Lambda of its own):`,
          '',
          '| Sync tasks, c=1, paced | n | errors | p50 ms | p99 ms |',
          '|---|--:|--:|--:|--:|',
          row('without a callbackUrl', webhooks.paced.without),
          row('with a callbackUrl', webhooks.paced.with),
          `| **With ÷ without, paced** | | | **${times(webhooks.paced.ratio.p50)}** | **${times(webhooks.paced.ratio.p99)}** |`,
          '',
        ]
      : []),
    'Deliveries of the tasks with a callbackUrl (delivered: received at least once with a valid signature; duplicates: deliveries beyond one a task; lag: from the 200 reaching the bench to the first delivery, medians of the rounds):',
    '',
    '| Deliveries | expected | delivered | missing | invalid signatures | duplicates | of tasks without a callbackUrl | lag p50 ms | lag p99 ms |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| all rounds | ${delivery.expected} | ${delivery.delivered} | ${delivery.missing} | ${delivery.invalidSignatures} | ${delivery.duplicates} | ${delivery.unexpected} | ${ms(delivery.lagP50Ms)} | ${ms(delivery.lagP99Ms)} |`,
    '',
  ];
  if (without.truncated || withCallback.truncated) lines.push('**A side hit its time bound and stopped early.**', '');
  if (delivery.truncated) lines.push(`**Deliveries were still missing after ${webhooks.deliveryWaitMs / 1000} s.**`, '');
  if (webhooks.rounds > 1) {
    lines.push(
      'Each round, in the order run:',
      '',
      '| Round | side | n | errors | p50 ms | p99 ms | delivered / expected | lag p50 ms |',
      '|--:|---|--:|--:|--:|--:|--:|--:|',
      ...webhooks.runs.map(
        (run) =>
          `| ${run.round + 1} | ${run.side}${run.paced ? ', paced' : ''} | ${run.completed} | ${run.errors} | ${ms(run.latency.p50)} | ${ms(run.latency.p99)} | ${run.delivery ? `${run.delivery.delivered} / ${run.delivery.expected}` : ''} | ${run.delivery ? ms(run.delivery.lagMs.p50) : ''} |`,
      ),
      '',
    );
  }
  const sides: [string, WebhookSideSummary][] = [
    [`without (${without.calls.tasks})`, without],
    [`with (${withCallback.calls.tasks})`, withCallback],
  ];
  const callNames = [...new Set(sides.flatMap(([, side]) => Object.keys(side.calls.byCall)))].sort();
  const functions = [...new Set(sides.flatMap(([, side]) => Object.keys(side.calls.lambda.byFunction)))].sort();
  lines.push(
    'Calls per task, counted over each side from its first request until its deliveries were done (so the notifier\'s work is in the side with callbacks):',
    '',
    `| Call | ${sides.map(([name]) => name).join(' | ')} |`,
    `|---|${sides.map(() => '--:').join('|')}|`,
    ...callNames.map((name) => `| ${name} | ${sides.map(([, side]) => fixed(side.calls.byCall[name] ?? 0)).join(' | ')} |`),
    `| **AWS calls (SQS + DynamoDB)** | ${sides.map(([, side]) => `**${fixed(side.calls.aws)}**`).join(' | ')} |`,
    `| Lambda: api (one per API request) | ${sides.map(([, side]) => fixed(side.calls.lambda.api)).join(' | ')} |`,
    ...functions.map((name) => `| Lambda: ${name} (event source) | ${sides.map(([, side]) => fixed(side.calls.lambda.byFunction[name] ?? 0)).join(' | ')} |`),
  );
  return lines;
}
