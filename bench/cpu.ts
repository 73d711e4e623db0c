import { readFile, readdir } from 'node:fs/promises';

/**
 * CPU time of the two processes of the local stack: this one (the emulators, the event-source
 * pollers and the load generator) and serverless-offline's process group (HTTP and Lambda
 * emulation, the api and worker functions). Read from /proc, so Linux only; elsewhere the
 * serverless-offline figure is missing.
 */
export interface CpuSample {
  /** CPU ms this process has used (user + system). */
  readonly benchMs: number;
  /** CPU ms serverless-offline's process group has used, when it can be read. */
  readonly offlineMs: number | undefined;
}

/** /proc reports times in clock ticks, which Linux fixes at 100 a second for user space (USER_HZ). */
const TICK_MS = 10;

export class CpuMeter {
  readonly #group: number | undefined;

  private constructor(group: number | undefined) {
    this.#group = group;
  }

  /** serverless-offline's pid (the leader of its process group), when found. */
  get offlinePid(): number | undefined {
    return this.#group;
  }

  /** Finds serverless-offline: a child of this process running serverless's bin, leader of its own group. */
  static async find(): Promise<CpuMeter> {
    for (const stat of await readStats()) {
      if (stat.ppid !== process.pid || stat.pgrp !== stat.pid) continue;
      const cmdline = await readFile(`/proc/${stat.pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('serverless')) return new CpuMeter(stat.pid);
    }
    return new CpuMeter(undefined);
  }

  async sample(): Promise<CpuSample> {
    const usage = process.cpuUsage();
    const benchMs = (usage.user + usage.system) / 1000;
    if (this.#group === undefined) return { benchMs, offlineMs: undefined };
    const group = (await readStats()).filter((stat) => stat.pgrp === this.#group);
    return { benchMs, offlineMs: group.reduce((sum, stat) => sum + stat.cpuTicks * TICK_MS, 0) };
  }
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  /** utime + stime. Children that exited are not counted: the group's processes live as long as the stack. */
  readonly cpuTicks: number;
}

async function readStats(): Promise<ProcStat[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const stats = await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').then(parseStat, () => undefined)),
  );
  return stats.filter((stat): stat is ProcStat => stat !== undefined);
}

/** `pid (comm) state ppid pgrp … utime stime …`: comm may hold spaces and parentheses, so split after its last ')'. */
function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is the state (field 3 of stat(5)), so field n is fields[n - 3].
  const [ppid, pgrp, utime, stime] = [fields[1], fields[2], fields[11], fields[12]].map(Number);
  if (!Number.isFinite(pid) || [ppid, pgrp, utime, stime].some((value) => !Number.isFinite(value))) return undefined;
  return { pid, ppid: ppid!, pgrp: pgrp!, cpuTicks: utime! + stime! };
}

/** CPU per operation over one phase, and how many cores were busy on average. */
export interface PhaseCpu {
  readonly benchMsPerOp: number;
  readonly offlineMsPerOp: number | undefined;
  readonly totalMsPerOp: number | undefined;
  /** CPU ms used by both processes per ms of wall-clock time: 2 means both cores of a 2-core machine busy. */
  readonly coresBusy: number | undefined;
  /**
   * Operations per second the CPU allows at this cost: each process runs its JavaScript on one
   * thread, so the busier process caps it at 1000 / its ms per op, and the cores cap the sum.
   */
  readonly cpuCeilingPerSecond: number | undefined;
}

export function phaseCpu(before: CpuSample, after: CpuSample, operations: number, elapsedMs: number, cores: number): PhaseCpu {
  const per = (ms: number) => Math.round((ms / Math.max(operations, 1)) * 1000) / 1000;
  const bench = after.benchMs - before.benchMs;
  if (after.offlineMs === undefined || before.offlineMs === undefined) {
    return { benchMsPerOp: per(bench), offlineMsPerOp: undefined, totalMsPerOp: undefined, coresBusy: undefined, cpuCeilingPerSecond: undefined };
  }
  const offline = after.offlineMs - before.offlineMs;
  const benchPerOp = bench / Math.max(operations, 1);
  const offlinePerOp = offline / Math.max(operations, 1);
  const ceiling = Math.min(1000 / benchPerOp, 1000 / offlinePerOp, (cores * 1000) / (benchPerOp + offlinePerOp));
  return {
    benchMsPerOp: per(bench),
    offlineMsPerOp: per(offline),
    totalMsPerOp: per(bench + offline),
    coresBusy: Math.round(((bench + offline) / elapsedMs) * 100) / 100,
    cpuCeilingPerSecond: Math.round(ceiling),
  };
}
