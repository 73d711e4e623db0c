import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freeStackPorts, isListening, processesMatching } from '../support/local-stack-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('Ctrl-C while npm start is still starting', () => {
  it('stops serverless-offline too, leaving no process behind', async () => {
    const { api, lambda, env } = await freeStackPorts();
    const dataDir = await mkdtemp(join(tmpdir(), 'doozer-interrupt-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env, DOOZER_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = once(child, 'exit');
    // serverless-offline prints this as it begins; the stack is not ready yet.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serverless-offline never started:\n${output}`)), 60_000);
      const watch = (chunk: Buffer) => {
        output += chunk;
        if (output.includes('Starting Offline')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', watch);
      child.stderr!.on('data', watch);
    });
    expect(output).not.toContain('doozer is running locally');
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(processesMatching(`--lambdaPort ${lambda}`)).toEqual([]);
    expect(await isListening(api)).toBe(false);
  }, 90_000);
});
