import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../bench/report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A smoke run of `npm run bench` with tiny counts: it must start the stack, run every phase, count
 * the calls and write well-formed results. No timing is asserted: the machines are noisy, and the
 * figures belong to the full run (BENCHMARKS.md).
 */
describe('the benchmark (npm run bench), smoke run', () => {
  let out: string | undefined;

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('runs every phase with zero errors and writes the JSON result and the Markdown table', { timeout: 180_000 }, async () => {
    out = await mkdtemp(join(tmpdir(), 'doozer-bench-'));
    const args = ['--warmup', '2', '--floor', '10', '--sync', '10', '--throughput', '32', '--concurrency', '4', '--deferred', '3', '--unit-calls', '20', '--startup-runs', '1', '--flood', '10', '--lifecycle', '120', '--lifecycle-rounds', '2', '--webhooks', '10', '--webhooks-paced', '3', '--webhook-rounds', '2'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args, '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const [code] = await once(child, 'exit');
    expect(code, output).toBe(0);

    const report = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8')) as BenchReport;
    expect(report.schema).toBe('doozer-bench/1');
    expect(report.counts).toMatchObject({ sync: 10, throughput: 32, concurrency: 4, deferred: 3 });

    const phases = {
      floorC1: report.floor.c1,
      floorConcurrent: report.floor.concurrent,
      syncC1: report.sync.c1,
      syncConcurrent: report.sync.concurrent,
      deferred: report.deferred,
    };
    const expected = { floorC1: 10, floorConcurrent: 32, syncC1: 10, syncConcurrent: 32, deferred: 3 };
    for (const [name, phase] of Object.entries(phases)) {
      expect({ name, errors: phase.errors, completed: phase.completed, truncated: phase.truncated }).toEqual({
        name,
        errors: 0,
        completed: expected[name as keyof typeof expected],
        truncated: false,
      });
      for (const figure of [phase.p50, phase.p90, phase.p99, phase.max, phase.perSecond]) expect(figure).toBeGreaterThan(0);
      expect(phase.p50).toBeLessThanOrEqual(phase.p99);
    }
    expect(report.sync.c1.toFloor?.p50).toBeGreaterThan(0);
    expect(report.sync.c1.cpu.benchMsPerOp).toBeGreaterThan(0);
    if (process.platform === 'linux') expect(report.sync.c1.cpu.offlineMsPerOp).toBeGreaterThan(0);
    expect(report.sync.concurrent.toFloor?.perSecond).toBeGreaterThan(0);

    // Counted, not estimated: each sync task records, queues and finishes its task, so it reaches
    // both emulators and a worker.
    const sync = report.calls.syncC1;
    expect(sync.tasks).toBe(10);
    expect(sync.byCall['SQS SendMessage']).toBe(1);
    expect(sync.byCall['DynamoDB PutItem']).toBe(1);
    expect(sync.dynamodbReads).toBeGreaterThan(0);
    expect(sync.dynamodbWrites).toBeGreaterThan(0);
    expect(sync.lambda.api).toBe(1);
    expect(sync.lambda.byFunction['doozer-local-worker']).toBeGreaterThan(0);
    // The floor touches neither the queue nor the task store: its one call is the per-user rate
    // limit's write, which every authenticated request makes. Only background calls may fall in its
    // phase besides: a poller's idle long poll ending (every 20 s) or the sweeper's Query.
    const background = new Set(['SQS ReceiveMessage', 'DynamoDB Query']);
    expect(Object.keys(report.calls.floorC1.byCall).filter((call) => !background.has(call))).toEqual(['DynamoDB UpdateItem']);
    expect(report.calls.floorC1.byCall['DynamoDB UpdateItem']).toBe(1);
    expect(report.calls.floorC1.lambda).toEqual({ api: 1, byFunction: {}, total: 1 });

    // npm start, timed as a newcomer runs it.
    expect(report.startup.runs).toHaveLength(1);
    expect(report.startup.healthP50Seconds).toBeGreaterThan(0);
    expect(report.startup.readyP50Seconds).toBeGreaterThanOrEqual(report.startup.healthP50Seconds);

    // The unit costs behind the ceiling: every kind measured, on both sides of the call.
    for (const kind of ['DynamoDB GetItem', 'DynamoDB PutItem', 'DynamoDB UpdateItem', 'SQS SendMessage'] as const) {
      const unit = report.unitCosts.byKind[kind];
      expect({ kind, calls: unit.calls }).toEqual({ kind, calls: 20 });
      expect(unit.clientMs).toBeGreaterThan(0);
      expect(unit.emulatorMs).toBeGreaterThan(0);
    }
    if (process.platform === 'linux') {
      expect(report.ceiling.syncConcurrent.perSecond).toBeGreaterThan(0);
      expect(report.ceiling.syncConcurrent.terms.length).toBeGreaterThan(0);
    }

    // Sync tasks beside the login floods: every one completed, failed logins answered (401, or 429
    // once a limit or the hashing line is reached), and the ratio against idle reported.
    expect(report.loginFlood.idle).toMatchObject({ completed: 10, errors: 0 });
    expect(report.loginFlood.floods.map((flood) => flood.label)).toEqual(['one address', '200 addresses']);
    for (const flood of report.loginFlood.floods) {
      expect(flood.tasks).toMatchObject({ completed: 10, errors: 0 });
      expect(flood.p50Ratio).toBeGreaterThan(0);
      expect(Object.keys(flood.loginStatuses).every((status) => status === '401' || status === '429')).toBe(true);
      expect(flood.loginStatuses['401']).toBeGreaterThan(0);
    }

    // Batches against single submissions: both sides in both rounds (in alternating order), every
    // task accepted and listed SUCCESS with its sum, through batches of 100 (a full one and the rest).
    const { lifecycle } = report;
    expect(lifecycle).toMatchObject({ tasksPerSide: 120, rounds: 2, batchSize: 100, target: 4 });
    expect(lifecycle.runs.map((run) => `${run.round}:${run.side}`)).toEqual(['0:single', '0:batch', '1:batch', '1:single']);
    for (const run of lifecycle.runs) {
      expect({ side: run.side, round: run.round, accepted: run.accepted, completed: run.completed, errors: run.errors, truncated: run.truncated }).toEqual({
        side: run.side,
        round: run.round,
        accepted: 120,
        completed: 120,
        errors: 0,
        truncated: false,
      });
      expect(run.requests).toBe(run.side === 'batch' ? 2 : 120);
      for (const figure of [run.acceptedPerSecond, run.completedPerSecond, run.submitSeconds, run.completeSeconds]) expect(figure).toBeGreaterThan(0);
      // The last task may be done before its answer reaches the client (the answer's trip back, on a
      // busy machine); never by much.
      expect(run.completeSeconds).toBeGreaterThanOrEqual(run.submitSeconds - 0.25);
      expect(run.listRequests).toBeGreaterThanOrEqual(2);
      // Counted: each task ran once in a worker; a batch recorded and queued its tasks in batched calls.
      expect(run.calls.lambda.byFunction['doozer-local-worker']).toBeGreaterThan(0);
      expect(run.calls.byCall['DynamoDB UpdateItem']).toBeGreaterThanOrEqual(1);
      expect(run.workers.invocations).toBeGreaterThan(0);
      expect(run.workers.meanMs).toBeGreaterThan(0);
      expect(run.workers.peakInFlight).toBeGreaterThan(0);
      if (run.side === 'batch') {
        expect(run.calls.byCall['DynamoDB BatchWriteItem']).toBeGreaterThan(0);
        expect(run.calls.byCall['DynamoDB PutItem'] ?? 0).toBe(0);
        expect(run.calls.byCall['SQS SendMessageBatch']).toBeGreaterThan(0);
      } else {
        expect(run.calls.byCall['DynamoDB PutItem']).toBe(1);
        expect(run.calls.byCall['SQS SendMessage']).toBe(1);
      }
    }
    for (const side of [lifecycle.batch, lifecycle.single]) {
      expect(side).toMatchObject({ rounds: 2, tasks: 240, accepted: 240, completed: 240, errors: 0 });
    }
    expect(lifecycle.batch).toMatchObject({ concurrency: 4, tasksPerRequest: 100 });
    expect(lifecycle.single).toMatchObject({ concurrency: 4, tasksPerRequest: 1 });
    expect(lifecycle.ratio.accepted).toBeGreaterThan(0);
    expect(lifecycle.ratio.completed).toBeGreaterThan(0);

    // Completion webhooks: both sides in both rounds (alternating), every sync task answered with its
    // sum, every task of the side with callbacks delivered once, signed with the development secret.
    const { webhooks } = report;
    expect(webhooks).toMatchObject({ tasksPerSide: 10, rounds: 2 });
    expect(webhooks.runs.map((run) => `${run.round}:${run.side}${run.paced ? ':paced' : ''}`)).toEqual([
      '0:without',
      '0:with',
      '1:with',
      '1:without',
      '0:without:paced',
      '0:with:paced',
      '1:with:paced',
      '1:without:paced',
    ]);
    for (const side of [webhooks.paced!.without, webhooks.paced!.with]) expect(side).toMatchObject({ rounds: 2, tasks: 6, completed: 6, errors: 0 });
    for (const side of [webhooks.without, webhooks.with]) expect(side).toMatchObject({ rounds: 2, tasks: 20, completed: 20, errors: 0, truncated: false });
    expect(webhooks.delivery).toMatchObject({ expected: 26, delivered: 26, missing: 0, invalidSignatures: 0, unexpected: 0, truncated: false });
    expect(webhooks.ratio.p50).toBeGreaterThan(0);
    expect(Number.isFinite(webhooks.delivery.lagP50Ms)).toBe(true);
    // Counted: the side with callbacks sends a second SQS message a task, and the notifier runs for it.
    expect(webhooks.with.calls.byCall['SQS SendMessage']).toBeGreaterThan(webhooks.without.calls.byCall['SQS SendMessage']!);
    expect(Object.keys(webhooks.with.calls.lambda.byFunction).some((name) => name.endsWith('-notifier'))).toBe(true);
    expect(Object.keys(webhooks.without.calls.lambda.byFunction).some((name) => name.endsWith('-notifier'))).toBe(false);

    const markdown = await readFile(join(out, 'latest.md'), 'utf8');
    expect(markdown).toContain('Completion webhooks: sync p50 with a callbackUrl against without.');
    expect(markdown).toContain('| **With ÷ without** |');
    expect(markdown).toContain('| all rounds | 26 | 26 | 0 | 0 |');
    expect(markdown).toContain('| Batches: `POST /tasks/batch` of 100, c=4 | 240 | 0 |');
    expect(markdown).toContain('| Single: `POST /tasks?wait=0`, c=4 | 240 | 0 |');
    expect(markdown).toContain('| **Batches ÷ single** (target 4×) |');
    expect(markdown).toContain('| at once: mean / most |');
    expect(markdown).toContain('| flood from 200 addresses, c=8 |');
    expect(markdown).toContain('| Sync, c=1: `POST /tasks` add until the 200 | 10 | 0 |');
    expect(markdown).toContain('| **AWS calls (SQS + DynamoDB)** |');
    expect(output).toContain(markdown.trim().split('\n')[0]);
  });
});
