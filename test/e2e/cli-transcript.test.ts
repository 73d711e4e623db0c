import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningProcess, type StackProcess, startStackProcess } from '../support/local-stack-process.ts';
import { cliEnvironment, runCli } from '../support/run-cli.ts';

/**
 * The original README's client transcript, replayed with the real `doozer` binary against the stack
 * started as `npm start -- --no-workers` does, then with the workers started as `npm run workers`.
 */
describe('the doozer CLI against the local stack', () => {
  let stack: StackProcess;
  let workers: RunningProcess | undefined;
  let env: NodeJS.ProcessEnv;
  const doozer = (...args: string[]) => runCli(args, env);

  beforeAll(async () => {
    stack = await startStackProcess({ workers: false });
    env = await cliEnvironment({ DOOZER_URL: stack.apiUrl });
  });

  afterAll(async () => {
    await workers?.stop();
    await stack?.stop();
    if (env?.XDG_CONFIG_HOME) await rm(dirname(env.XDG_CONFIG_HOME), { recursive: true, force: true });
  });

  describe('with the workers down', () => {
    let taskId: string;

    it('prints "Deferred! task_…" and exits 0', async () => {
      const { code, stdout } = await doozer('add', '--i', '1,2,3');
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Deferred! task_[0-9a-f-]{36}\n$/);
      taskId = stdout.trim().split(' ')[1]!;
    });

    it('looks the task up as PENDING', async () => {
      const { code, stdout } = await doozer('lookup', `--uuid=${taskId}`);
      expect(code).toBe(0);
      expect(stdout).toBe('Status : PENDING\n');
    });

    it('shows SUCCESS and the result once the workers come back online', async () => {
      workers = await stack.startWorkers();
      const { code, stdout } = await doozer('lookup', `--uuid=${taskId}`, '--wait', '--timeout', '30');
      expect(code).toBe(0);
      expect(stdout).toBe('Status : SUCCESS\nResult : 6\n');
    });
  });

  describe('with the workers up', () => {
    it('adds: Result: 21', async () => {
      expect(await doozer('add', '--i', '1,2,3,4,5,6')).toMatchObject({ code: 0, stdout: 'Result: 21\n' });
    });

    it('multiplies: Result: 24', async () => {
      expect(await doozer('mul', '--i', '2,3,4')).toMatchObject({ code: 0, stdout: 'Result: 24\n' });
    });

    it('takes positional integers of any size', async () => {
      expect(await doozer('mul', '123456789012345678901234567890', '2')).toMatchObject({
        code: 0,
        stdout: 'Result: 246913578024691357802469135780\n',
      });
    });

    it('prints the API JSON with --json', async () => {
      const { code, stdout } = await doozer('add', '1', '2', '--json');
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ name: 'add', args: [1, 2], state: 'SUCCESS', result: 3 });
    });

    it('prints a JWT for the configured user', async () => {
      const { code, stdout } = await doozer('token');
      expect(code).toBe(0);
      const payload = JSON.parse(Buffer.from(stdout.trim().split('.')[1]!, 'base64url').toString('utf8'));
      expect(payload).toMatchObject({ sub: 'doozer', iss: 'doozer', aud: 'doozer-api' });
    });
  });

  describe('failures', () => {
    it('exits 3 with a hint when the password is wrong', async () => {
      const result = await runCli(['token'], { ...env, DOOZER_PASSWORD: 'not-the-password' });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('authentication failed');
      expect(result.stderr + result.stdout).not.toContain('not-the-password');
    });

    it('exits 1 with a clear message for an unknown id', async () => {
      const result = await doozer('lookup', '--uuid=task_00000000-0000-4000-8000-000000000000');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('no task with id task_00000000-0000-4000-8000-000000000000');
    });

    it('exits 2 before sending anything for a bad number', async () => {
      const result = await doozer('add', '--i', '1,,2');
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('value 2 is empty');
    });

    it('exits 6 with the service message for what it refuses, a time in the past', async () => {
      const result = await doozer('add', '1', '--at', '2020-01-01T00:00Z');
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(/^doozer: the service refused the request \(400 invalid_request\): runAt .* is in the past/);
    });
  });
});
