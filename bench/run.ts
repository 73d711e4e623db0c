/**
 * `npm run bench`: the benchmark of the local stack. Parses flags, runs it, writes and prints the
 * results. See HELP (or `npm run bench -- --help`).
 */
import { fileURLToPath } from 'node:url';
import { readCommandLine } from './command-line.ts';
import { type BenchCounts, FULL_COUNTS, QUICK_COUNTS, runBenchmark } from './benchmark.ts';
import { type BenchReport, LATEST_FILE, describeEnvironment, publishLatest, reasonNotToPublish, writeReport } from './report.ts';
import { webhookFailures } from './webhooks-figures.ts';
import { DELIVERY_WAIT_MS } from './webhooks.ts';

const HELP = `Usage: npm run bench [-- options]

Times \`npm start\` itself (to /health and to its banner), then starts the local stack as
\`npm start\` does (on free loopback ports, with the bench's own floor function beside the
product's: serverless.bench.mjs), then measures in one run, over keep-alive HTTP on loopback:
  floor     POST /bench/floor at c=1 and at c=16: the same server and auth, the add computed inline
  sync      POST /tasks add until the 200, at c=1 (latency) and at c=16 (tasks/s)
  deferred  POST /tasks?wait=0 (202), then GET /tasks/<id>?wait=5 until SUCCESS, at c=1
and counts per task the SQS and DynamoDB calls (at the emulators) and the Lambda invocations.
Then the task lifecycle, batches against single submissions (issue 12), the same add tasks on
each side, in rounds that alternate which side goes first (medians of the rounds):
  batch     POST /tasks/batch of 100 tasks at c=4, answered at once (200, a task per item)
  single    POST /tasks?wait=0 at --concurrency, answered at once (202)
each side: tasks accepted per second of its submissions, and tasks completed (SUCCESS with the
right sum) per second from its first submission to its last task's SUCCESS (the latest updatedAt),
found by listing GET /tasks?limit=100 newest first: walked once after the submissions, then the
oldest page still open read again every 200 ms; the ratios batch / single against the 4x target.
Then completion webhooks (the acceptance: a callbackUrl adds nothing to sync p50), in rounds that
alternate which side goes first (medians of the rounds):
  without   POST /tasks add until the 200, at c=1, as the sync phase
  with      the same with a callbackUrl to a receiver in this process on 127.0.0.1
the ratio with / without of p50 and p99; then the same sides paced, each task sent once the stack
has made no call for 20 ms (the previous task's delivery done: what the delivery adds to the sync
path, without its work sharing the machine's cores); after each side with callbacks, up to ${DELIVERY_WAIT_MS / 1000} s for its
deliveries, each verified as Standard Webhooks with the development secret: delivered of expected,
invalid signatures, duplicates (beyond one a task), and the lag from the 200 to the delivery.
Then sync tasks at c=1 idle and beside two floods of failed logins with ever-new user names (from
one address, and from 200 loopback addresses in turn): the task latency under a flood as a ratio.
Then the unit costs: the CPU of one SDK call (client side, from a child process, and at the
emulators) per kind, from which it builds up the CPU ceiling a sync task allows on this machine.
Writes <out>/latest.json and <out>/latest.md and prints the table; a full run (no count flag, no
--out) with no failure and no source edited meanwhile also writes the table to bench/LATEST.md,
the committed latest run that BENCHMARKS.md links. Exits 1 if any request failed, or a completion
webhook was missing, had a bad signature, or came for a task without a callbackUrl.
Where the time of one sync task goes, step by step: npm run bench:trace (bench/trace/).

Options:
  --quick              small counts (about a tenth), for a look in under a minute
  --warmup N           warm-up operations per kind and concurrency, and lifecycle and webhook tasks per side (${FULL_COUNTS.warmup}; quick ${QUICK_COUNTS.warmup})
  --floor N            floor requests at c=1                         (${FULL_COUNTS.floor}; quick ${QUICK_COUNTS.floor})
  --sync N             sync tasks at c=1                             (${FULL_COUNTS.sync}; quick ${QUICK_COUNTS.sync})
  --throughput N       sync tasks and floor requests at --concurrency (${FULL_COUNTS.throughput}; quick ${QUICK_COUNTS.throughput})
  --deferred N         deferred tasks                                (${FULL_COUNTS.deferred}; quick ${QUICK_COUNTS.deferred})
  --concurrency N      callers of the throughput phases and of the lifecycle's single side (${FULL_COUNTS.concurrency})
  --unit-calls N       calls of each kind for the unit costs         (${FULL_COUNTS.unitCalls}; quick ${QUICK_COUNTS.unitCalls})
  --startup-runs N     timed starts of npm start, first               (${FULL_COUNTS.startupRuns}; quick ${QUICK_COUNTS.startupRuns})
  --flood N            sync tasks at c=1 idle and beside each login flood (${FULL_COUNTS.flood}; quick ${QUICK_COUNTS.flood})
  --lifecycle N        add tasks per side and round, batches and single (${FULL_COUNTS.lifecycle}; quick ${QUICK_COUNTS.lifecycle})
  --lifecycle-rounds N rounds of both sides, alternating the order   (${FULL_COUNTS.lifecycleRounds}; quick ${QUICK_COUNTS.lifecycleRounds})
  --webhooks N         sync tasks at c=1 per side and round, without and with a callbackUrl (${FULL_COUNTS.webhooks}; quick ${QUICK_COUNTS.webhooks})
  --webhooks-paced N   sync tasks per side and round of the paced pass, 0 for none (${FULL_COUNTS.webhooksPaced}; quick ${QUICK_COUNTS.webhooksPaced})
  --webhook-rounds N   rounds of both webhook sides, alternating the order (${FULL_COUNTS.webhookRounds}; quick ${QUICK_COUNTS.webhookRounds})
  --max-seconds N      time bound of each phase; a phase past it stops early (300)
  --offline-log        keep serverless-offline's per-request log lines, as npm start prints them
  --out DIR            where to write the results (bench/results); bench/LATEST.md is then left alone
  --json               print the JSON result instead of the Markdown table
  -h, --help           this text`;

const DEFAULT_OUT = fileURLToPath(new URL('./results', import.meta.url));

const { values, usage, count: parseCount } = readCommandLine('bench', HELP, {
  quick: { type: 'boolean', default: false },
  warmup: { type: 'string' },
  floor: { type: 'string' },
  sync: { type: 'string' },
  throughput: { type: 'string' },
  deferred: { type: 'string' },
  concurrency: { type: 'string' },
  'unit-calls': { type: 'string' },
  'startup-runs': { type: 'string' },
  flood: { type: 'string' },
  lifecycle: { type: 'string' },
  'lifecycle-rounds': { type: 'string' },
  webhooks: { type: 'string' },
  'webhooks-paced': { type: 'string' },
  'webhook-rounds': { type: 'string' },
  'max-seconds': { type: 'string' },
  'offline-log': { type: 'boolean', default: false },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
});

const base = values.quick ? QUICK_COUNTS : FULL_COUNTS;
const counts: BenchCounts = {
  warmup: parseCount('warmup', values.warmup, base.warmup, 0),
  floor: parseCount('floor', values.floor, base.floor, 1),
  sync: parseCount('sync', values.sync, base.sync, 1),
  throughput: parseCount('throughput', values.throughput, base.throughput, 1),
  deferred: parseCount('deferred', values.deferred, base.deferred, 1),
  concurrency: parseCount('concurrency', values.concurrency, base.concurrency, 1),
  unitCalls: parseCount('unit-calls', values['unit-calls'], base.unitCalls, 1),
  startupRuns: parseCount('startup-runs', values['startup-runs'], base.startupRuns, 1),
  flood: parseCount('flood', values.flood, base.flood, 1),
  lifecycle: parseCount('lifecycle', values.lifecycle, base.lifecycle, 1),
  lifecycleRounds: parseCount('lifecycle-rounds', values['lifecycle-rounds'], base.lifecycleRounds, 1),
  webhooks: parseCount('webhooks', values.webhooks, base.webhooks, 1),
  webhooksPaced: parseCount('webhooks-paced', values['webhooks-paced'], base.webhooksPaced, 0),
  webhookRounds: parseCount('webhook-rounds', values['webhook-rounds'], base.webhookRounds, 1),
};

// The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22): known; the SDK is pinned (README, "More").
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const log = (line: string) => console.error(`[bench] ${line}`);

try {
  const result = await runBenchmark({
    counts,
    maxPhaseSeconds: parseCount('max-seconds', values['max-seconds'], 300, 1),
    requestTimeoutMs: 30_000,
    offlineLog: values['offline-log'],
    log,
  });
  const report: BenchReport = { schema: 'doozer-bench/1', ...result, environment: await describeEnvironment(result.startedAt) };
  const out = values.out ?? DEFAULT_OUT;
  const markdown = await writeReport(report, out);
  console.log(values.json ? JSON.stringify(report, null, 2) : markdown);
  log(`results in ${out}/latest.json and latest.md`);
  const phases = [
    report.floor.c1,
    report.floor.concurrent,
    report.sync.c1,
    report.sync.concurrent,
    report.deferred,
    report.loginFlood.idle,
    ...report.loginFlood.floods.map((flood) => flood.tasks),
    ...report.lifecycle.runs,
    ...report.webhooks.runs,
  ];
  const errors = phases.reduce((sum, phase) => sum + phase.errors, 0);
  if (errors > 0) {
    log(`${errors} requests failed: ${JSON.stringify(phases.map((phase) => phase.errorSamples))}`);
    process.exitCode = 1;
  }
  const failures = webhookFailures(report.webhooks);
  if (failures.length > 0) {
    log(failures.map((failure) => failure.message).join('; '));
    process.exitCode = 1;
  }
  const fullRun = values.out === undefined && (Object.keys(FULL_COUNTS) as (keyof BenchCounts)[]).every((key) => counts[key] === FULL_COUNTS[key]);
  const notPublished = fullRun ? reasonNotToPublish(report, errors + failures.length) : 'not a full run';
  if (notPublished === undefined) {
    await publishLatest(markdown);
    log(`the table is in ${LATEST_FILE} too: commit it`);
  } else {
    log(`${LATEST_FILE} left as it was: ${notPublished}`);
  }
} catch (error) {
  log(`the benchmark failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
}
