import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LocalSettings } from '../local/settings.ts';
import { LOCAL_CREDENTIALS, RESOURCE_NAMES } from '../local/settings.ts';
import type { PerTaskCalls } from './call-counter.ts';
import type { PhaseCpu } from './cpu.ts';

/**
 * The CPU ceiling of this machine, built up from unit costs: what one AWS SDK call costs on the
 * client's side and at the emulator, and what one Lambda emulation costs in serverless-offline,
 * times the calls and invocations a task needs (counted in the same run). Compared with the CPU the
 * sync phase really used, it shows where a task's CPU goes and how close the measured throughput
 * is to what the machine allows.
 */

/** The calls measured one kind at a time; the others are priced as the nearest of these. */
export const UNIT_CALL_KINDS = ['DynamoDB GetItem', 'DynamoDB PutItem', 'DynamoDB UpdateItem', 'SQS SendMessage'] as const;
export type UnitCallKind = (typeof UNIT_CALL_KINDS)[number];

/** The calls of a task that the pollers in the bench process make; every other call is a function's, in serverless-offline. */
const POLLER_CALLS = new Set(['SQS ReceiveMessage', 'SQS DeleteMessageBatch', 'SQS DeleteMessage']);

/** Which measured kind prices a call that was not measured on its own. */
export function unitKindOf(call: string): UnitCallKind {
  if ((UNIT_CALL_KINDS as readonly string[]).includes(call)) return call as UnitCallKind;
  if (call.startsWith('SQS ')) return 'SQS SendMessage';
  if (/GetItem|Query|Scan/.test(call)) return 'DynamoDB GetItem';
  if (/PutItem|BatchWrite/.test(call)) return 'DynamoDB PutItem';
  return 'DynamoDB UpdateItem';
}

export interface UnitCallCost {
  readonly calls: number;
  /** CPU of the calling process per call: the SDK building, signing, sending and parsing. */
  readonly clientMs: number;
  /** CPU of the bench process per call over the same window: the emulator serving it (and HTTP). */
  readonly emulatorMs: number;
  /** Wall-clock per call at the concurrency used. */
  readonly wallMs: number;
}

export interface UnitCosts {
  readonly concurrency: number;
  readonly byKind: Readonly<Record<UnitCallKind, UnitCallCost>>;
}

export interface CeilingTerm {
  readonly process: 'serverless-offline' | 'bench process';
  readonly what: string;
  readonly count: number;
  readonly msEach: number;
  readonly ms: number;
}

export interface Ceiling {
  readonly terms: readonly CeilingTerm[];
  readonly offlineMsPerTask: number;
  readonly benchMsPerTask: number;
  /** Tasks per second the CPU allows at those costs: one JavaScript thread per process, and the cores. */
  readonly perSecond: number;
  /** Which limit sets it. */
  readonly limit: 'serverless-offline thread' | 'bench process thread' | 'cores';
}

/**
 * The CPU a task needs by this model, and the ceiling that follows. A Lambda emulation is priced as a
 * floor request's serverless-offline CPU at the same concurrency (HTTP in and out, one invocation,
 * auth, the add: the floor has no other work), for the api function's invocations and the
 * event-source's alike; the load generator as a floor request's bench-process CPU.
 */
export function ceilingFromUnitCosts(units: UnitCosts, calls: PerTaskCalls, floorCpu: PhaseCpu, cores: number): Ceiling {
  const emulation = floorCpu.offlineMsPerOp ?? Number.NaN;
  const terms: CeilingTerm[] = [];
  const term = (process: CeilingTerm['process'], what: string, count: number, msEach: number) => {
    if (count > 0) terms.push({ process, what, count, msEach, ms: count * msEach });
  };
  term('serverless-offline', 'Lambda emulation (api and worker invocations), priced as a floor request', calls.lambda.total, emulation);
  const eventSourceInvocations = calls.lambda.total - calls.lambda.api;
  for (const [call, count] of Object.entries(calls.byCall)) {
    const unit = units.byKind[unitKindOf(call)];
    if (POLLER_CALLS.has(call)) term('bench process', `${call}, the poller's SDK`, count, unit.clientMs);
    else term('serverless-offline', `${call}, the function's SDK`, count, unit.clientMs);
    term('bench process', `${call}, at the emulator`, count, unit.emulatorMs);
  }
  term('bench process', "Lambda Invoke, the poller's SDK (priced as SendMessage)", eventSourceInvocations, units.byKind['SQS SendMessage'].clientMs);
  term('bench process', 'the load generator, per API request (a floor request)', calls.lambda.api, floorCpu.benchMsPerOp);
  const sum = (process: CeilingTerm['process']) => terms.filter((t) => t.process === process).reduce((total, t) => total + t.ms, 0);
  const offline = sum('serverless-offline');
  const bench = sum('bench process');
  const limits = [
    { limit: 'serverless-offline thread' as const, perSecond: 1000 / offline },
    { limit: 'bench process thread' as const, perSecond: 1000 / bench },
    { limit: 'cores' as const, perSecond: (cores * 1000) / (offline + bench) },
  ];
  const lowest = limits.reduce((a, b) => (b.perSecond < a.perSecond ? b : a));
  return { terms, offlineMsPerTask: offline, benchMsPerTask: bench, perSecond: lowest.perSecond, limit: lowest.limit };
}

const CHILD = fileURLToPath(new URL('./sdk-call-child.ts', import.meta.url));

/**
 * Measures the unit costs against the running stack's emulators: a child process makes `calls`
 * calls of each kind at `concurrency` and reports its own CPU; this process, which runs the
 * emulators, samples its CPU around each kind.
 */
export async function measureUnitCosts(
  settings: LocalSettings,
  { calls, concurrency, log }: { calls: number; concurrency: number; log: (line: string) => void },
): Promise<UnitCosts> {
  log(`unit costs: ${calls} calls of each of ${UNIT_CALL_KINDS.join(', ')} at c=${concurrency}, from a child process`);
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      DYNAMODB_ENDPOINT: settings.dynamodbEndpoint,
      SQS_ENDPOINT: settings.sqsEndpoint,
      TABLE_NAME: RESOURCE_NAMES.table,
      UNIT_CALLS: String(calls),
      UNIT_CONCURRENCY: String(concurrency),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const byKind: Partial<Record<UnitCallKind, UnitCallCost>> = {};
  let before = 0;
  const cpuMs = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  for await (const line of createInterface({ input: child.stdout })) {
    const message = JSON.parse(line) as { ready?: UnitCallKind; done?: UnitCallKind; calls: number; cpuMs: number; wallMs: number };
    if (message.ready) {
      before = cpuMs();
      child.stdin.write('go\n');
    } else if (message.done) {
      const emulator = cpuMs() - before;
      byKind[message.done] = {
        calls: message.calls,
        clientMs: message.cpuMs / message.calls,
        emulatorMs: emulator / message.calls,
        wallMs: message.wallMs / message.calls,
      };
    }
  }
  const code = await exited;
  const missing = UNIT_CALL_KINDS.filter((kind) => !byKind[kind]);
  if (code !== 0 || missing.length > 0) throw new Error(`the unit-cost child exited with ${code}; not measured: ${missing.join(', ') || 'none'}`);
  return { concurrency, byKind: byKind as Record<UnitCallKind, UnitCallCost> };
}
