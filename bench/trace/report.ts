import type { describeEnvironment } from '../report.ts';
import type { PhaseCpu } from '../cpu.ts';
import type { summarize } from '../load.ts';
import type { Breakdown, SegmentFigure } from './analysis.ts';
import type { ProfileFigures } from './profile.ts';

/** What `npm run bench:trace` writes (bench/results/trace.json) and prints. */
export interface TraceResult {
  readonly startedAt: string;
  readonly options: { tasks: number; warmup: number; floor: number; gapMs: number; cpuProf: boolean };
  readonly floor: ReturnType<typeof summarize> & { readonly n: number; readonly cpu: PhaseCpu };
  readonly sync: ReturnType<typeof summarize> & { readonly n: number; readonly errors: number; readonly cpu: PhaseCpu };
  /** The same tasks untraced, in blocks alternating with the traced ones: what tracing costs. */
  readonly control: ReturnType<typeof summarize> & { readonly n: number; readonly cpu: PhaseCpu };
  readonly rejected: { taskId: string; reason: string }[];
  readonly receivesAnsweredPerTask: Record<number, number>;
  readonly breakdown: Breakdown;
  /** Per task, every segment in ms (for other quantiles, or to tune the wait loop from). */
  readonly tasks: readonly Record<string, number>[];
  /** serverless-offline's CPU by code (--cpu-prof). */
  readonly profile?: ProfileFigures;
  /** The same for this process (emulators, pollers, client, recorder). */
  readonly benchProfile?: ProfileFigures;
  readonly environment: Awaited<ReturnType<typeof describeEnvironment>>;
}

const f = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–');

/** The breakdown as Markdown tables, as `npm run bench:trace` prints it. */
export function toMarkdown(report: TraceResult): string {
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
      ...Object.entries(report.profile.msPerTaskByFunction ?? {}).map(([name, ms]) => `| ${name} | ${f(ms)} |`),
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
