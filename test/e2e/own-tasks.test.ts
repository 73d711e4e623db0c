import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type StackProcess, devUserToken, startStackProcess } from '../support/local-stack-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The code block the README gives under `<!-- recipe: <file> -->`. */
function recipe(readme: string, file: string): string {
  const match = new RegExp(`<!-- recipe: ${file.replaceAll('.', '\\.')} -->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match?.[1]) throw new Error(`the README has no recipe for ${file}`);
  return match[1];
}

/** A task that ignores its signal and outlives its one-second limit. */
const STUBBORN_TASK = `import * as z from 'zod/mini';
import { defineTask } from '../lib/tasks/define-task.ts';

export const stubborn = defineTask({
  name: 'stubborn',
  description: 'Waits 4 s whatever its signal says.',
  args: z.strictObject({}),
  timeoutSeconds: 1,
  run: () => new Promise((resolve) => setTimeout(() => resolve('too late'), 4_000)),
});
`;

/** A task whose run throws an error of its own: the log should name this file. */
const BOOM_TASK = `import * as z from 'zod/mini';
import { defineTask } from '../lib/tasks/define-task.ts';

export const boom = defineTask({
  name: 'boom',
  description: 'Throws.',
  args: z.strictObject({}),
  pure: true,
  run: () => {
    throw new Error('kaboom');
  },
});
`;

/**
 * Tasks as users define them, over HTTP against the stack: a copy of the project where the README's
 * recipe has been followed (and one more task that outlives its limit), started as `npm start`
 * starts, with a 2 s visibility timeout so that long tasks need their heartbeat.
 */
describe('your own tasks, through the running stack', () => {
  let project: string;
  let stack: StackProcess;
  let token: string;

  const api = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${stack.apiUrl}${path}`, { ...init, headers });
  };
  const submit = async (name: string, args: unknown, query = '') =>
    api(`/tasks${query}`, { method: 'POST', body: JSON.stringify({ name, args }) });
  type View = { id: string; state: string; result?: unknown; error?: { code: string }; progress?: { fraction: number; message?: string } };

  /** Looks the task up every 200 ms until it ends; every view seen on the way. */
  const watch = async (id: string, timeoutMs = 60_000): Promise<View[]> => {
    const seen: View[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = (await (await api(`/tasks/${id}`)).json()) as View;
      seen.push(view);
      if (view.state === 'SUCCESS' || view.state === 'FAILURE' || Date.now() > deadline) return seen;
      await wait(200);
    }
  };

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'doozer-own-tasks-'));
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      // The copy gets a link to this node_modules below (one that is itself a link is not ignored).
      .filter((file) => file !== '' && file !== 'node_modules');
    for (const file of files) {
      await mkdir(dirname(join(project, file)), { recursive: true });
      await cp(join(ROOT, file), join(project, file)).catch(() => {}); // a file deleted but not yet committed
    }
    await symlink(join(ROOT, 'node_modules'), join(project, 'node_modules'));

    // The README's recipe, as a user follows it: the task's file, then its import and its place in TASKS.
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    await writeFile(join(project, 'tasks/word-count.ts'), recipe(readme, 'tasks/word-count.ts'));
    const [importLine, tasksLine] = recipe(readme, 'tasks/index.ts').trim().split('\n') as [string, string];
    const index = await readFile(join(project, 'tasks/index.ts'), 'utf8');
    const listed = index
      .replace(/^(import [^\n]+\n)(?!import )/m, `$1${importLine}\n`)
      .replace(/^export const TASKS = \[[^\]]*\] as const;$/m, tasksLine);
    expect(listed).toContain(importLine);
    expect(listed).toContain(tasksLine);
    // One more task, to see a time limit pass.
    await writeFile(join(project, 'tasks/stubborn.ts'), STUBBORN_TASK);
    await writeFile(join(project, 'tasks/boom.ts'), BOOM_TASK);
    await writeFile(
      join(project, 'tasks/index.ts'),
      `import { boom } from './boom.ts';\nimport { stubborn } from './stubborn.ts';\n${listed.replace('wordCount] as const', 'wordCount, stubborn, boom] as const')}`,
    );

    stack = await startStackProcess({ workers: true, cwd: project, env: { DOOZER_VISIBILITY_TIMEOUT_SECONDS: '2' } });
    token = await devUserToken(stack.apiUrl);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('lists the new task in GET /task-types and in /openapi.json, from its schemas', async () => {
    const { taskTypes } = (await (await fetch(`${stack.apiUrl}/task-types`)).json()) as {
      taskTypes: { name: string; timeoutSeconds: number; args: { properties?: Record<string, unknown> } }[];
    };
    expect(taskTypes.map((type) => type.name)).toEqual(['add', 'mul', 'sleep', 'primes', 'word-count', 'stubborn', 'boom']);
    expect(taskTypes.find((type) => type.name === 'word-count')).toMatchObject({
      timeoutSeconds: 5,
      args: { properties: { text: { type: 'string', maxLength: 10_000 } } },
    });
    const document = JSON.stringify(await (await fetch(`${stack.apiUrl}/openapi.json`)).json());
    expect(document).toContain('"const":"word-count"');
    expect(document).toContain('Counts the words of a text.');
  });

  it('runs the new task, and refuses its bad args naming the field and the rule', async () => {
    const response = await submit('word-count', { text: 'one two  three' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ state: 'SUCCESS', result: { words: 3 }, progress: { fraction: 1 } });
    const refused = await submit('word-count', { text: 42 });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: { code: 'invalid_request', message: 'args.text must be a string, got number' } });
  });

  it('defers a 3 s sleep (202), shows its progress rising on lookups, then SUCCESS', async () => {
    const response = await submit('sleep', { ms: 3_000 }, '?wait=0');
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as View;
    const seen = await watch(id);
    const fractions = seen.filter((view) => view.state !== 'SUCCESS' && view.progress).map((view) => view.progress!.fraction);
    expect(fractions.length).toBeGreaterThanOrEqual(2);
    expect(new Set(fractions).size).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(seen.at(-1)).toMatchObject({ state: 'SUCCESS', progress: { fraction: 1 } });
    expect((seen.at(-1)!.result as { slept: number }).slept).toBeGreaterThanOrEqual(3_000);
    // Longer than the 2 s visibility timeout, yet run once: a second delivery would have marked it RETRY.
    expect(seen.map((view) => view.state)).not.toContain('RETRY');
  });

  it('shows the progress of the CPU-bound primes task as it goes', async () => {
    const response = await submit('primes', { below: 2_000_000_000 }, '?wait=0');
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as View;
    const seen = await watch(id, 120_000);
    const running = seen.filter((view) => view.state !== 'SUCCESS' && view.progress);
    expect(running.length).toBeGreaterThanOrEqual(1);
    expect(running[0]!.progress!.message).toMatch(/primes below/);
    expect(seen.at(-1)).toMatchObject({ state: 'SUCCESS', result: { below: 2_000_000_000, count: 98_222_287 } });
    expect(seen.map((view) => view.state)).not.toContain('RETRY');
  }, 150_000);

  it('ends a task that throws FAILURE task_failed without its message, and logs the stack at its own source line', async () => {
    const response = await submit('boom', {});
    expect(response.status).toBe(200);
    const view = (await response.json()) as View & { error: { message: string } };
    expect(view).toMatchObject({ state: 'FAILURE', error: { code: 'task_failed' } });
    expect(view.error.message).not.toContain('kaboom');
    await vi.waitFor(() => expect(stack.output()).toMatch(/kaboom[\s\S]*tasks\/boom\.ts:\d+/), { timeout: 5_000 });
  });

  it('ends a task that outlives its time limit FAILURE timeout, though it ignores its signal', async () => {
    const response = await submit('stubborn', {});
    const view = (await response.json()) as View;
    expect(response.status).toBe(200);
    expect(view).toMatchObject({ state: 'FAILURE', error: { code: 'timeout', message: 'the task ran longer than its limit of 1 s' } });
  });
});
