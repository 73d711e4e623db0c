import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuMeter, PhaseCpu } from '../cpu.ts';
import { phaseCpu } from '../cpu.ts';
import { type Call, type LoopResult, runClosedLoop } from '../load.ts';
import type { operations } from '../operations.ts';
import type { ClientSpan } from './analysis.ts';
import type { CpuProfiling, ProfileWindow } from './profile.ts';
import type { TraceRecorder } from './recorder.ts';

/** Traced tasks per block; untraced blocks of the same size alternate with them. */
export const BLOCK = 50;

/** Warm-up (sync tasks, then floor requests, at c=1), then the floor at c=1 with its CPU. */
export async function measureFloor(options: {
  readonly ops: ReturnType<typeof operations>;
  readonly cpu: CpuMeter;
  readonly cores: number;
  readonly warmup: number;
  readonly floor: number;
  readonly log: (line: string) => void;
}): Promise<{ loop: LoopResult; cpu: PhaseCpu }> {
  const { ops, cpu, log } = options;
  log(`warm-up: ${options.warmup} sync, then ${options.warmup} floor, at c=1`);
  await runClosedLoop({ count: options.warmup, concurrency: 1, maxMs: 300_000, operation: ops.sync });
  await runClosedLoop({ count: options.warmup, concurrency: 1, maxMs: 300_000, operation: ops.floor });

  log(`floor: ${options.floor} at c=1`);
  const before = await cpu.sample();
  const loop = await runClosedLoop({ count: options.floor, concurrency: 1, maxMs: 300_000, operation: ops.floor });
  const after = await cpu.sample();
  return { loop, cpu: phaseCpu(before, after, loop.latenciesMs.length, loop.elapsedMs, options.cores) };
}

export interface TracedBlocks {
  /** The traced tasks that answered 200 SUCCESS with the right sum, as the client saw them. */
  readonly clients: ClientSpan[];
  /** The untraced tasks' latencies, ms. */
  readonly control: number[];
  readonly errors: string[];
  readonly cpu: { readonly traced: PhaseCpu; readonly control: PhaseCpu };
  /** The blocks' span, for the CPU profiles. */
  readonly window: ProfileWindow;
}

/**
 * Sync adds at c=1 in traced blocks alternating with untraced ones of the same size, to measure what
 * tracing itself costs (it runs in this process, beside the emulators and pollers). A traced block
 * starts with one task that is not traced: the long poll that will receive its message began
 * untraced. With `profiling`, both processes are profiled over all the blocks.
 */
export async function runTracedBlocks(options: {
  readonly call: Call;
  readonly recorder: TraceRecorder;
  readonly cpu: CpuMeter;
  readonly cores: number;
  readonly tasks: number;
  readonly gapMs: number;
  readonly profiling?: CpuProfiling;
  readonly log: (line: string) => void;
}): Promise<TracedBlocks> {
  const { call, recorder, cpu } = options;
  const blocks = Math.ceil(options.tasks / BLOCK);
  options.log(
    `trace: ${options.tasks} sync tasks at c=1 (${options.gapMs ? `${options.gapMs} ms apart` : 'back to back'}), in ${blocks} traced blocks alternating with as many untraced ones`,
  );
  const clients: ClientSpan[] = [];
  const control: number[] = [];
  const errors: string[] = [];
  const cpuBy = { traced: { bench: 0, offline: 0, ops: 0, ms: 0 }, control: { bench: 0, offline: 0, ops: 0, ms: 0 } };
  await options.profiling?.start(cpu.offlinePid);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  let index = 0;
  let tasks = 0;
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
    tasks += size;
  }
  const toUs = Number(process.hrtime.bigint() / 1000n);
  recorder.enabled = false;
  await options.profiling?.stop();
  // The last traced task's invocation has long ended; this is for its delete and next poll.
  await sleep(500);
  const blockCpu = (c: typeof cpuBy.traced) =>
    phaseCpu({ benchMs: 0, offlineMs: 0 }, { benchMs: c.bench, offlineMs: Number.isNaN(c.offline) ? undefined : c.offline }, c.ops, c.ms, options.cores);
  return { clients, control, errors, cpu: { traced: blockCpu(cpuBy.traced), control: blockCpu(cpuBy.control) }, window: { fromUs, toUs, tasks } };
}
