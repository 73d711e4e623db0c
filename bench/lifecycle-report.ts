import type { LifecycleResult, LifecycleSideSummary } from './lifecycle-figures.ts';
import { fixed, ms } from './report-format.ts';

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
