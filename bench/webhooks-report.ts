import { fixed, ms } from './report-format.ts';
import type { WebhookResult, WebhookSideSummary } from './webhooks-figures.ts';

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
