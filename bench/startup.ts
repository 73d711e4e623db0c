import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freeStackPorts } from '../local/ports.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface StartupRun {
  /** From spawning `npm start` to GET /health answering 200. */
  readonly healthSeconds: number;
  /** From spawning `npm start` to its banner ("doozer is running locally"): the workers are polling too. */
  readonly readySeconds: number;
}

export interface StartupResult {
  readonly runs: readonly StartupRun[];
  readonly healthP50Seconds: number;
  readonly readyP50Seconds: number;
}

/**
 * Times `npm start` as a newcomer runs it, `runs` times one after the other: npm, tsx, the
 * emulators, serverless-offline (loading the framework, bundling the functions) and the pollers,
 * until /health answers and until the banner is printed. Each run gets free loopback ports and is
 * stopped with SIGINT (Ctrl-C) before the next starts.
 */
export async function measureStartup(runs: number, log: (line: string) => void): Promise<StartupResult> {
  const results: StartupRun[] = [];
  for (let run = 0; run < runs; run += 1) {
    const { api, env } = await freeStackPorts();
    const dataDir = await mkdtemp(join(tmpdir(), 'doozer-startup-'));
    const started = performance.now();
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, ...env, DOOZER_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so Ctrl-C can be sent to npm and everything under it at once.
      detached: true,
    });
    const exited = once(child, 'exit');
    let output = '';
    let readyAt: number | undefined;
    const watch = (chunk: Buffer) => {
      output += chunk;
      if (readyAt === undefined && output.includes('doozer is running locally')) readyAt = performance.now();
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    try {
      let healthAt: number | undefined;
      const deadline = started + 120_000;
      while ((healthAt === undefined || readyAt === undefined) && performance.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
        if (healthAt === undefined) {
          const ok = await fetch(`http://127.0.0.1:${api}/health`, { signal: AbortSignal.timeout(1_000) }).then(
            (response) => response.ok,
            () => false,
          );
          if (ok) healthAt = performance.now();
        }
        await sleep(20);
      }
      if (healthAt === undefined || readyAt === undefined) throw new Error(`npm start was not ready within 120 s:\n${output}`);
      const result = { healthSeconds: (healthAt - started) / 1000, readySeconds: (readyAt - started) / 1000 };
      log(`npm start run ${run + 1}/${runs}: /health after ${result.healthSeconds.toFixed(2)} s, banner after ${result.readySeconds.toFixed(2)} s`);
      results.push(result);
    } finally {
      if (child.exitCode === null) {
        process.kill(-child.pid!, 'SIGINT');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  return {
    runs: results,
    healthP50Seconds: median(results.map((run) => run.healthSeconds)),
    readyP50Seconds: median(results.map((run) => run.readySeconds)),
  };
}
