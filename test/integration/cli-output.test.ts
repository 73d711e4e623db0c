/**
 * What the installed `doozer` prints when asked for its version, and when something goes wrong:
 * with --json, each failure as one JSON object on stdout (the exit code unchanged), and exit 2
 * only for what is found before any request (a refusal of the service is 6). The bundled binary
 * in its own process, against the real app (test/support/cli-server.ts).
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import clientPackage from '../../client/package.json' with { type: 'json' };
import { type CliServer, startCliServer } from '../support/cli-server.ts';
import { freePorts } from '../support/local-stack-process.ts';
import { pendingTask } from '../support/task-fixtures.ts';
import { DOOZER_BIN, checkBundleIsFresh, cliEnvironment, runCli } from '../support/run-cli.ts';

let server: CliServer;
let env: NodeJS.ProcessEnv;
/** A URL where nothing listens. */
let closedUrl: string;

const doozer = (...args: string[]) => runCli(args, env);

beforeAll(async () => {
  await checkBundleIsFresh();
  server = await startCliServer();
  env = await cliEnvironment({ DOOZER_URL: server.url });
  closedUrl = `http://127.0.0.1:${(await freePorts(1))[0]}`;
});

afterAll(async () => {
  await server?.close();
  if (env?.XDG_CONFIG_HOME) await rm(dirname(env.XDG_CONFIG_HOME), { recursive: true, force: true });
});

beforeEach(() => {
  server.consumer = 'run';
  server.resetRequests();
});

describe('the version', () => {
  it.each([['--version'], ['-v'], ['version']])('doozer %s prints it, and {"version"} with --json', async (flag) => {
    expect(await doozer(flag)).toEqual({ code: 0, stdout: `doozer ${clientPackage.version}\n`, stderr: '' });
    expect(await doozer(flag, '--json')).toEqual({ code: 0, stdout: `${JSON.stringify({ version: clientPackage.version })}\n`, stderr: '' });
    expect(server.requests).toEqual([]);
  });

  it('is among the flags of doozer help', async () => {
    expect((await doozer('help')).stdout).toContain('  -v, --version              print the version');
  });
});

describe('failures with --json: one JSON object on stdout, nothing on stderr, the same exit code', () => {
  it.each<[string, string[], number, object]>([
    ['a usage error', ['add', '1', '--bogus'], 2, { code: 'usage', message: "unknown option '--bogus'" }],
    ['a bad number, before any request', ['add', '--i', '1,,2'], 2, { code: 'invalid_input', message: expect.stringContaining('value 2 is empty') }],
    ['a bad setting', ['add', '1', '--url', 'ftp://x/'], 2, { code: 'invalid_settings', message: expect.stringContaining('is not an http(s) URL') }],
    ['no such task', ['lookup', 'task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d'], 1, { code: 'task_not_found', status: 404 }],
    ['args the service refuses', ['run', 'sleep', '{"ms":-1}'], 6, { code: 'invalid_request', status: 400 }],
    ['a time in the past', ['add', '1', '--at', '2020-01-01T00:00Z'], 6, { code: 'invalid_request', status: 400, message: expect.stringContaining('in the past') }],
    ['an unknown task type', ['tasks', 'nope'], 6, { code: 'unknown_task', message: expect.stringContaining('unknown task "nope"') }],
    ['a wrong password', ['token', '--password', 'not-the-password'], 3, { code: 'unauthorized', status: 401 }],
  ])('%s', async (_case, args, code, error) => {
    const run = await doozer(...args, '--json');
    expect(run).toMatchObject({ code, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ error: expect.objectContaining({ message: expect.any(String), ...error }) });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('the service unreachable: exit 4, code unreachable, naming the URL', async () => {
    const run = await runCli(['add', '1', '--json'], { ...env, DOOZER_URL: closedUrl });
    expect(run).toMatchObject({ code: 4, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ error: { code: 'unreachable', message: `nothing answers at ${closedUrl} (connection refused)` } });
  });

  it('a task to cancel that had ended: exit 1, with the state it ended in', async () => {
    const task = pendingTask({ owner: 'doozer', state: 'SUCCESS', result: 3 });
    await server.store.create(task);
    const run = await doozer('cancel', task.id, '--json');
    expect(run).toMatchObject({ code: 1, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ error: { code: 'task_ended', message: expect.stringContaining(task.id), status: 409, state: 'SUCCESS' } });
    const text = await doozer('cancel', task.id);
    expect(text).toEqual({ code: 1, stdout: '', stderr: `doozer: ${task.id} has already ended (SUCCESS); there is nothing to cancel.\n` });
  });
});

describe('an over-long argument is clipped in the message', () => {
  it.each<[string[], string]>([
    [['add', '1'.repeat(5_000)], `doozer: argument "${'1'.repeat(60)}…" has 5000 digits; at most 1000 are allowed\n`],
    [['x'.repeat(5_000)], `error: unknown command '${'x'.repeat(60)}…'\n(run "doozer help" for usage)\n`],
    [['add', '1', `--${'y'.repeat(5_000)}`], `error: unknown option '--${'y'.repeat(58)}…'\n(run "doozer help" for usage)\n`],
    [['batch', `${'z'.repeat(200)}.jsonl`], `doozer: no such file: ${'z'.repeat(60)}…\n`],
  ])('doozer %#: exit 2, the argument cut to 60 characters', async (args, stderr) => {
    expect(await doozer(...args)).toEqual({ code: 2, stdout: '', stderr });
    expect(server.requests).toEqual([]);
  });
});

describe('a reader that goes away', () => {
  it('ends the command quietly, as `doozer help add | head -1` does', async () => {
    const child = spawn(DOOZER_BIN, ['help', 'add'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // The reader takes the first chunk, then closes the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
