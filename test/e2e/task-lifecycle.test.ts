import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, REGION, RESOURCE_NAMES } from '../../local/settings.ts';
import { type StackProcess, startStackProcess } from '../support/local-stack-process.ts';
import { cliEnvironment, runCli } from '../support/run-cli.ts';

interface TaskView {
  id: string;
  name: string;
  state: string;
  args: unknown;
  result?: unknown;
  error?: { code: string; message: string };
  progress?: unknown;
  runAt?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * The task lifecycle over the running stack, as a user drives it (HTTP, and the `doozer` CLI): list
 * with paging and filters, cancel, run later, batches. The stack runs with short limits so the
 * scheduler's path takes seconds: tasks more than 10 s ahead are SCHEDULED, and the sweeper (invoked
 * here as EventBridge would, instead of waiting for its minute) queues those due within 10 s.
 */
describe('the task lifecycle on the local stack', () => {
  let stack: StackProcess;
  let lambda: LambdaClient;
  const tokens = new Map<string, string>();
  const envs = new Map<string, NodeJS.ProcessEnv>();
  const USERS = { doozer: 'doozer', alice: 'alice-pw-lifecycle', bob: 'bob-pw-lifecycle' } as const;
  type User = keyof typeof USERS;

  const api = async (user: User, path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${tokens.get(user)}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${stack.apiUrl}${path}`, { ...init, headers });
  };
  const json = async <T>(response: Response | Promise<Response>): Promise<T> => (await (await response).json()) as T;
  const submit = (user: User, body: unknown, query = '?wait=0') => json<TaskView>(api(user, `/tasks${query}`, { method: 'POST', body: JSON.stringify(body) }));
  const lookup = (user: User, id: string) => json<TaskView>(api(user, `/tasks/${id}`));
  const doozer = (user: User, args: string[], stdin = '') => runCli(args, envs.get(user)!, stdin);
  /** What EventBridge does every minute: run the sweeper (its scheduler queues the tasks due soon). */
  const sweep = async () => {
    const { FunctionError, Payload } = await lambda.send(new InvokeCommand({ FunctionName: RESOURCE_NAMES.sweeperFunction }));
    expect(FunctionError, Buffer.from(Payload ?? []).toString()).toBeUndefined();
    return JSON.parse(Buffer.from(Payload!).toString()) as { released: number };
  };
  const until = async (id: string, user: User, done: (task: TaskView) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await json<TaskView>(api(user, `/tasks/${id}?wait=1`));
      if (done(task)) return task;
      if (Date.now() > deadline) throw new Error(`task ${id} is still ${task.state}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    stack = await startStackProcess({
      workers: true,
      env: {
        DOOZER_LOCAL_USERS: `alice:${USERS.alice},bob:${USERS.bob}`,
        DOOZER_MAX_QUEUE_DELAY_SECONDS: '10',
        DOOZER_SCHEDULE_AHEAD_SECONDS: '10',
        // The minute's schedule stays out of the way: this test runs the sweeper itself.
        DOOZER_SWEEPER_ENABLED: 'false',
      },
    });
    lambda = new LambdaClient({ region: REGION, endpoint: `http://127.0.0.1:${stack.ports.lambda}`, credentials: LOCAL_CREDENTIALS });
    for (const [user, password] of Object.entries(USERS)) {
      const { token } = await json<{ token: string }>(
        fetch(`${stack.apiUrl}/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: user, password }),
        }),
      );
      tokens.set(user, token);
      envs.set(user, await cliEnvironment({ DOOZER_URL: stack.apiUrl, DOOZER_USERNAME: user, DOOZER_PASSWORD: password }));
    }
  }, 120_000);

  afterAll(async () => {
    lambda?.destroy();
    await stack?.stop();
    for (const env of envs.values()) if (env.XDG_CONFIG_HOME) await rm(dirname(env.XDG_CONFIG_HOME), { recursive: true, force: true });
  });

  describe('batches', () => {
    it('runs a batch of 100 into 100 tasks, each once, with its own result', async () => {
      const body = { tasks: Array.from({ length: 100 }, (_, index) => ({ name: 'add', args: [index, 1000] })) };
      const response = await api('doozer', '/tasks/batch', { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      const { results } = (await response.json()) as { results: { task: TaskView }[] };
      expect(results).toHaveLength(100);
      const ids = results.map((result) => result.task.id);
      expect(new Set(ids).size).toBe(100);
      // One at a time, each read waiting for its task: a hundred pollers at once would load the stack more than the batch.
      const ended: TaskView[] = [];
      for (const id of ids) ended.push(await until(id, 'doozer', (task) => task.state === 'SUCCESS'));
      expect(ended.map((task) => task.result)).toEqual(Array.from({ length: 100 }, (_, index) => index + 1000));
      // Each ran once: its end written once, and no second delivery that ran it again and was refused.
      const lines = stack.output().split('\n');
      for (const id of ids) {
        const mine = lines.filter((line) => line.includes(id));
        expect(mine.filter((line) => line.includes('"task ended"')), id).toHaveLength(1);
        expect(mine.filter((line) => line.includes('skipping a task')), id).toEqual([]);
      }
    }, 60_000);

    it('accepts the good lines of a batch file and names the bad ones, one result line per input line', async () => {
      const dir = dirname(envs.get('doozer')!.XDG_CONFIG_HOME!);
      const file = join(dir, 'tasks.jsonl');
      await writeFile(
        file,
        ['{"name":"add","args":[1,2]}', 'not json', '{"name":"pow","args":[2,8]}', '{"name":"mul","args":[6,7]}', '{"name":"add","args":"x"}'].join('\n'),
      );
      const { code, stdout } = await doozer('doozer', ['batch', file, '--json']);
      expect(code).toBe(1);
      const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { task?: TaskView; error?: { code: string } });
      expect(lines.map((line) => line.task?.name ?? line.error?.code)).toEqual(['add', expect.any(String), 'unknown_task', 'mul', 'invalid_request']);
      const mul = await until(lines[3]!.task!.id, 'doozer', (task) => task.state === 'SUCCESS');
      expect(mul.result).toBe(42);
    }, 30_000);
  });

  describe('listing', () => {
    it('pages through 250 tasks over HTTP without a gap or a repeat, newest first, and only the caller\'s', async () => {
      const submitted: string[] = [];
      for (let start = 0; start < 250; start += 100) {
        const tasks = Array.from({ length: Math.min(100, 250 - start) }, (_, index) => ({ name: 'add', args: [start + index] }));
        const { results } = await json<{ results: { task: TaskView }[] }>(
          api('alice', '/tasks/batch', { method: 'POST', body: JSON.stringify({ tasks }) }),
        );
        submitted.push(...results.map((result) => result.task.id));
      }
      await submit('bob', { name: 'add', args: [1] });
      // The index may lag a write by a moment: wait until the first page shows the newest task.
      await expect.poll(async () => (await json<{ tasks: TaskView[] }>(api('alice', '/tasks?limit=1'))).tasks[0]?.id, { timeout: 10_000 }).toBeDefined();
      const seen: TaskView[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `/tasks?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page: { tasks: TaskView[]; next: string | null } = await json(api('alice', query));
        seen.push(...page.tasks);
        cursor = page.next;
      } while (cursor);
      expect(seen.map((task) => task.id).sort()).toEqual([...submitted].sort());
      const order = seen.map((task) => `${task.createdAt}#${task.id}`);
      expect(order).toEqual([...order].sort().reverse());
      const bobs = await json<{ tasks: TaskView[] }>(api('bob', '/tasks?limit=100'));
      expect(bobs.tasks).toHaveLength(1);
    }, 60_000);

    it('filters by state and name, and refuses a cursor given to another user', async () => {
      const done = await submit('bob', { name: 'mul', args: [2, 3] }, '?wait=5');
      expect(done.state).toBe('SUCCESS');
      await submit('bob', { name: 'add', args: [5] }, '?wait=0');
      await expect.poll(async () => (await json<{ tasks: TaskView[] }>(api('bob', '/tasks?name=mul'))).tasks.map((task) => task.id)).toEqual([done.id]);
      const succeeded = await json<{ tasks: TaskView[] }>(api('bob', '/tasks?state=SUCCESS&limit=100'));
      expect(succeeded.tasks.every((task) => task.state === 'SUCCESS')).toBe(true);
      const { next } = await json<{ next: string }>(api('alice', '/tasks?limit=1'));
      const foreign = await api('bob', `/tasks?cursor=${encodeURIComponent(next)}`);
      expect(foreign.status).toBe(400);
      expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }, 30_000);

    it('lists through the CLI: --limit across pages, --state, --json', async () => {
      const { code, stdout } = await doozer('alice', ['list', '--limit', '150', '--json']);
      expect(code).toBe(0);
      const listed = JSON.parse(stdout) as { tasks: TaskView[] };
      expect(listed.tasks).toHaveLength(150);
      expect(new Set(listed.tasks.map((task) => task.id)).size).toBe(150);
      const table = await doozer('bob', ['list', '--state', 'SUCCESS']);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('SUCCESS');
      expect(table.stdout).not.toContain('PENDING');
    }, 30_000);
  });

  describe('cancelling', () => {
    it('cancels a sleeping task: it ends CANCELLED at once, its waiting caller is answered, and its late result is never written', async () => {
      const started = Date.now();
      const waiting = submit('doozer', { name: 'sleep', args: { ms: 8000 } }, '?wait=5');
      // Running: it has reported progress (sleep reports at once, then every second).
      let sleeping: TaskView | undefined;
      await expect
        .poll(
          async () => {
            const { tasks } = await json<{ tasks: TaskView[] }>(api('doozer', '/tasks?name=sleep&state=PENDING'));
            sleeping = tasks.find((task) => task.progress !== undefined);
            return sleeping;
          },
          { timeout: 4_000, interval: 100 },
        )
        .toBeDefined();
      const { code, stdout } = await doozer('doozer', ['cancel', sleeping!.id, '--json']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ id: sleeping!.id, state: 'CANCELLED' });
      const answered = await waiting;
      expect(answered).toMatchObject({ id: sleeping!.id, state: 'CANCELLED' });
      expect(Date.now() - started).toBeLessThan(8000);
      // The worker stopped it (its record read, or its next progress report refused) and dropped
      // the message, long before the 8 s sleep would have ended.
      const dropped = new RegExp(`skipping a task that is not runnable[^\\n]*${sleeping!.id}`);
      await expect.poll(() => dropped.test(stack.output()), { timeout: 3_000, interval: 100 }).toBe(true);
      expect(Date.now() - started).toBeLessThan(7000);
      // Past the time the sleep would have ended: nothing it returned was written.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 9000 - Date.now())));
      const after = await lookup('doozer', sleeping!.id);
      expect(after.state).toBe('CANCELLED');
      expect(after.result).toBeUndefined();
      const again = await api('doozer', `/tasks/${sleeping!.id}/cancel`, { method: 'POST' });
      expect(again.status).toBe(200);
    }, 30_000);

    it('answers 409 with the state for an ended task, and 404 for another user\'s', async () => {
      const done = await submit('doozer', { name: 'add', args: [1, 1] }, '?wait=5');
      const ended = await api('doozer', `/tasks/${done.id}/cancel`, { method: 'POST' });
      expect(ended.status).toBe(409);
      expect(await ended.json()).toMatchObject({ error: { code: 'task_ended', state: 'SUCCESS' } });
      const cli = await doozer('doozer', ['cancel', done.id]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain('SUCCESS');
      const foreign = await api('bob', `/tasks/${done.id}/cancel`, { method: 'POST' });
      expect(foreign.status).toBe(404);
    }, 30_000);
  });

  describe('running later', () => {
    it('runs a task given 5 s ahead (the queue\'s delay) and one given 20 s ahead (the scheduler) within a few seconds of their times', async () => {
      const soon = await submit('doozer', { name: 'add', args: [5], delaySeconds: 5 });
      const later = await submit('doozer', { name: 'add', args: [20], runAt: new Date(Date.now() + 20_000).toISOString() });
      expect(soon.state).toBe('PENDING');
      expect(later.state).toBe('SCHEDULED');
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      expect((await sweep()).released).toBeGreaterThanOrEqual(1);
      expect((await lookup('doozer', later.id)).state).toBe('PENDING');
      for (const task of [soon, later]) {
        const ended = await until(task.id, 'doozer', (each) => each.state === 'SUCCESS');
        const late = Date.parse(ended.updatedAt) - Date.parse(task.runAt!);
        expect(late, `${task.id} ran ${late} ms after its time`).toBeGreaterThanOrEqual(0);
        expect(late).toBeLessThan(5_000);
      }
    }, 60_000);

    it('keeps a task 20 minutes ahead SCHEDULED, lists it, and never runs it once cancelled', async () => {
      const { code, stdout } = await doozer('doozer', ['add', '1', '2', '--in', '20m', '--json']);
      expect(code).toBe(0);
      const far = JSON.parse(stdout) as TaskView;
      expect(far.state).toBe('SCHEDULED');
      expect(Date.parse(far.runAt!) - Date.now()).toBeGreaterThan(19 * 60_000);
      await expect.poll(async () => (await json<{ tasks: TaskView[] }>(api('doozer', '/tasks?state=SCHEDULED'))).tasks.map((task) => task.id)).toContain(far.id);
      const near = await submit('doozer', { name: 'add', args: [3], delaySeconds: 12 });
      expect(near.state).toBe('SCHEDULED');
      expect((await json<TaskView>(api('doozer', `/tasks/${near.id}/cancel`, { method: 'POST' }))).state).toBe('CANCELLED');
      await new Promise((resolve) => setTimeout(resolve, 13_000));
      // Due now, and cancelled: the scheduler queues nothing.
      expect((await sweep()).released).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const after = await lookup('doozer', near.id);
      expect(after).toMatchObject({ state: 'CANCELLED' });
      expect(after.result).toBeUndefined();
      expect(stack.output()).not.toMatch(new RegExp(`"task ended"[^\\n]*${near.id}`));
    }, 60_000);

    it('refuses a time in the past or past the limit with a 400 naming the limit', async () => {
      for (const body of [
        { name: 'add', args: [1], runAt: '2020-01-01T00:00:00Z' },
        { name: 'add', args: [1], delaySeconds: 8 * 86_400 },
      ]) {
        const response = await api('doozer', '/tasks', { method: 'POST', body: JSON.stringify(body) });
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { message: string } }).error.message).toContain('7 days');
      }
    });
  });
});
