/**
 * The `doozer` binary as a user runs it: the bundled CLI (node_modules/.bin/doozer) in its own
 * process, against the real API served over HTTP on 127.0.0.1 with in-memory adapters. Each run
 * gets its own config and cache folders and an environment without DOOZER_* variables.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import clientPackage from '../../client/package.json' with { type: 'json' };
import { CONSUMER_FAILURE, type CliServer, TEST_USERS, startCliServer } from '../support/cli-server.ts';
import { freePorts } from '../support/local-stack-process.ts';
import { pendingTask } from '../support/task-fixtures.ts';
import { catalog } from '../support/catalog.ts';
import { DOOZER_BIN, checkBundleIsFresh } from '../support/run-cli.ts';

/** The file `npm install` links as `doozer`: what a user's shell runs. */
const DOOZER = realpathSync(DOOZER_BIN);
const WRONG_PASSWORD = 'wrong-pw-c0ffee42';
/** Passwords that must never be printed. (`doozer` is the default user's, and the program's name.) */
const SECRETS = [TEST_USERS.alice, TEST_USERS.bob, TEST_USERS.carol, WRONG_PASSWORD];
const TASK_ID = /task_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const UNKNOWN_ID = 'task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d';

interface Home {
  readonly configHome: string;
  readonly cacheHome: string;
  readonly configFile: string;
  readonly tokenFile: string;
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface RunOptions {
  /** Config and cache folders; a fresh pair by default. */
  readonly home?: Home;
  /** Added to an environment without any DOOZER_* variable. */
  readonly env?: Record<string, string>;
  /** Written to the child's standard input, which is then closed. */
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

let server: CliServer;
/** A URL where nothing listens. */
let closedUrl: string;
const tempRoots: string[] = [];

async function newHome(): Promise<Home> {
  const root = await mkdtemp(join(tmpdir(), 'doozer-cli-'));
  tempRoots.push(root);
  const configHome = join(root, 'config');
  const cacheHome = join(root, 'cache');
  return { configHome, cacheHome, configFile: join(configHome, 'doozer', 'config.json'), tokenFile: join(cacheHome, 'doozer', 'tokens.json') };
}

async function writeConfig(home: Home, content: unknown): Promise<void> {
  await mkdir(join(home.configHome, 'doozer'), { recursive: true });
  await writeFile(home.configFile, typeof content === 'string' ? content : JSON.stringify(content));
}

/**
 * Runs the binary and resolves when it exits. Every run is checked for leaked passwords, so the
 * guarantee covers all of them, failures included.
 */
async function runDoozer(args: readonly string[], { home, env = {}, stdin = '', timeoutMs = 15_000 }: RunOptions = {}): Promise<Run> {
  const { configHome, cacheHome } = home ?? (await newHome());
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DOOZER_')));
  const child = spawn(process.execPath, [DOOZER, ...args], {
    env: { ...inherited, XDG_CONFIG_HOME: configHome, XDG_CACHE_HOME: cacheHome, ...env },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // The child may exit without reading its input; that is not this test's failure.
  child.stdin.on('error', () => {});
  child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => resolve(exitCode));
  }).finally(() => clearTimeout(timer));
  if (code === null) throw new Error(`doozer ${args.join(' ')} was killed after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`);
  for (const secret of SECRETS) {
    expect(stdout, `stdout of doozer ${args.join(' ')}`).not.toContain(secret);
    expect(stderr, `stderr of doozer ${args.join(' ')}`).not.toContain(secret);
  }
  return { code, stdout, stderr };
}

/** Runs the binary with DOOZER_URL pointing at the test server (the test's env may override it). */
function doozer(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return runDoozer(args, { ...options, env: { DOOZER_URL: server.url, ...options.env } });
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');

/** The `sub` claim of a JWT (decoded, not verified: the server has verified it by issuing it). */
function subjectOf(token: string): string {
  const payload = token.trim().split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub: string }).sub;
}

/** A task of the default user, stored directly: no worker and no wait involved. */
async function storedTask(overrides: Parameters<typeof pendingTask>[0] = {}) {
  const task = pendingTask({ owner: 'doozer', ...overrides });
  await server.store.create(task);
  return task;
}

beforeAll(async () => {
  await checkBundleIsFresh();
  server = await startCliServer();
  closedUrl = `http://127.0.0.1:${(await freePorts(1))[0]}`;
});

afterAll(async () => {
  await server?.close();
  await Promise.all(tempRoots.map((root) => rm(root, { recursive: true, force: true })));
});

beforeEach(() => {
  server.consumer = 'run';
  server.resetRequests();
});

describe('settings: flags, then environment, then config file, then defaults', () => {
  it('logs in as the default user doozer when only the URL is set', async () => {
    const run = await doozer(['token']);
    expect(run.code).toBe(0);
    expect(subjectOf(run.stdout)).toBe('doozer');
  });

  it('reads URL, username and password from $XDG_CONFIG_HOME/doozer/config.json', async () => {
    const home = await newHome();
    await writeConfig(home, { url: server.url, username: 'carol', password: TEST_USERS.carol });
    const run = await runDoozer(['token'], { home });
    expect(run.code).toBe(0);
    expect(subjectOf(run.stdout)).toBe('carol');
  });

  it('lets DOOZER_USERNAME and DOOZER_PASSWORD override the config file', async () => {
    const home = await newHome();
    await writeConfig(home, { url: server.url, username: 'carol', password: TEST_USERS.carol });
    const run = await runDoozer(['token'], { home, env: { DOOZER_USERNAME: 'bob', DOOZER_PASSWORD: TEST_USERS.bob } });
    expect(run.code).toBe(0);
    expect(subjectOf(run.stdout)).toBe('bob');
  });

  it('lets --username and --password-stdin override the environment and the config file', async () => {
    const home = await newHome();
    await writeConfig(home, { url: server.url, username: 'carol', password: TEST_USERS.carol });
    const run = await runDoozer(['token', '--username', 'alice', '--password-stdin'], {
      home,
      env: { DOOZER_USERNAME: 'bob', DOOZER_PASSWORD: TEST_USERS.bob },
      stdin: `${TEST_USERS.alice}\n`,
    });
    expect(run.code).toBe(0);
    expect(subjectOf(run.stdout)).toBe('alice');
  });

  it('lets DOOZER_URL override the URL of the config file', async () => {
    const home = await newHome();
    await writeConfig(home, { url: closedUrl });
    const run = await doozer(['add', '1'], { home });
    expect(run).toEqual({ code: 0, stdout: 'Result: 1\n', stderr: '' });
  });

  it('lets --url override DOOZER_URL, and names the URL it could not reach', async () => {
    const run = await doozer(['add', '1', '--url', closedUrl]);
    expect(run.code).toBe(4);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`nothing answers at ${closedUrl} (connection refused)`);
    expect(server.requests).toEqual([]);
  });

  it.each<[string, string, string]>([
    ['not JSON', '{"url": ', 'is not valid JSON'],
    ['with an unknown field', JSON.stringify({ user: 'carol' }), 'is not valid'],
    ['with a URL that is not one', JSON.stringify({ url: 'not a url' }), 'url:'],
    ['with an empty password', JSON.stringify({ password: '' }), 'password:'],
  ])('refuses a config file %s with exit 2, naming the file', async (_case, content, problem) => {
    const home = await newHome();
    await writeConfig(home, content);
    const run = await doozer(['add', '1'], { home });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^doozer: the config file ${home.configFile} `));
    expect(run.stderr).toContain(problem);
    expect(server.requests).toEqual([]);
  });

  it('refuses a URL that is not http(s) with exit 2', async () => {
    const run = await doozer(['add', '1'], { env: { DOOZER_URL: 'ftp://127.0.0.1/' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('doozer: the URL "ftp://127.0.0.1/" is not an http(s) URL; give one like http://127.0.0.1:3000\n');
  });
});

describe('token cache', () => {
  it('logs in once for two runs, and keeps the token in a file only its owner can read', async () => {
    const home = await newHome();
    expect(await doozer(['add', '1'], { home })).toEqual({ code: 0, stdout: 'Result: 1\n', stderr: '' });
    expect(await doozer(['add', '1'], { home })).toEqual({ code: 0, stdout: 'Result: 1\n', stderr: '' });
    expect(server.count('POST /auth/token')).toBe(1);
    expect(server.count('POST /tasks')).toBe(2);
    expect((await stat(home.tokenFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home.cacheHome, 'doozer'))).mode & 0o777).toBe(0o700);
  });

  it('logs in again and succeeds when the server no longer accepts the cached token', async () => {
    const home = await newHome();
    expect((await doozer(['add', '1'], { home })).code).toBe(0);
    await server.restartWithNewSecret();
    const run = await doozer(['add', '2'], { home });
    expect(run).toEqual({ code: 0, stdout: 'Result: 2\n', stderr: '' });
    expect(server.requests.map((request) => `${request.route} ${request.status}`)).toEqual([
      'POST /auth/token 200',
      'POST /tasks 200',
      'POST /tasks 401',
      'POST /auth/token 200',
      'POST /tasks 200',
    ]);
  });

  it('warns and carries on when the cache cannot be written', async () => {
    const home = await newHome();
    // A file where the cache folder should be: mkdir fails with ENOTDIR.
    await writeFile(home.cacheHome, 'not a folder');
    const run = await doozer(['add', '1'], { home });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Result: 1\n');
    expect(run.stderr).toContain('warning: the token cache');
  });

  it('does not use a token cached for another password', async () => {
    const home = await newHome();
    const env = { DOOZER_USERNAME: 'alice', DOOZER_PASSWORD: TEST_USERS.alice };
    expect((await doozer(['token'], { home, env })).code).toBe(0);
    const run = await doozer(['token'], { home, env: { ...env, DOOZER_PASSWORD: WRONG_PASSWORD } });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
  });
});

describe('exit codes', () => {
  it.each<[string[], string]>([
    [['add', '1', '2', '3'], 'Result: 6'],
    [['add', '--i', '1,2', '--i', '3', '4'], 'Result: 10'],
    [['mul', '--i', '2,3', '4'], 'Result: 24'],
    [['add', '--i', '-5,3'], 'Result: -2'],
    [['add', '9007199254740993', '1'], 'Result: 9007199254740994'],
    [['mul', '123456789012345678901234567890', '10'], 'Result: 1234567890123456789012345678900'],
  ])('0 with the result: doozer %j', async (args, result) => {
    expect(await doozer(args)).toEqual({ code: 0, stdout: `${result}\n`, stderr: '' });
  });

  it('0 for lookup of a finished task, with its status and result', async () => {
    const task = await storedTask({ state: 'SUCCESS', args: ['20', '22'], result: '42' });
    expect(await doozer(['lookup', `--uuid=${task.id}`])).toEqual({ code: 0, stdout: 'Status : SUCCESS\nResult : 42\n', stderr: '' });
  });

  it('0 for lookup of a pending task, given as an argument', async () => {
    const task = await storedTask();
    expect(await doozer(['lookup', task.id])).toEqual({ code: 0, stdout: 'Status : PENDING\n', stderr: '' });
  });

  it('0 for lookup of a running task that reports progress, with how far it is', async () => {
    const progress = { fraction: 0.55, done: 55, total: 100, message: '3 s to go', at: new Date().toISOString() };
    const task = await storedTask({ name: 'sleep', args: { ms: 5_000 }, progress });
    expect(await doozer(['lookup', task.id])).toEqual({ code: 0, stdout: 'Status : PENDING\nProgress : 55% 3 s to go\n', stderr: '' });
  });

  it('1 for a task that ends in FAILURE, and lookup shows its error', async () => {
    server.consumer = 'fail';
    const added = await doozer(['add', '1']);
    expect(added.code).toBe(1);
    expect(added.stdout).toBe('');
    const id = TASK_ID.exec(added.stderr)?.[0];
    expect(added.stderr).toBe(`Failed! ${id}: ${CONSUMER_FAILURE.message} (${CONSUMER_FAILURE.code})\n`);

    const looked = await doozer(['lookup', `--uuid=${id}`]);
    expect(looked.code).toBe(1);
    expect(lines(looked.stdout)).toEqual(['Status : FAILURE', `Error : ${CONSUMER_FAILURE.message}`]);
  });

  it('1 for an unknown task id, saying so on stderr', async () => {
    const run = await doozer(['lookup', `--uuid=${UNKNOWN_ID}`]);
    expect(run).toEqual({ code: 1, stdout: '', stderr: `doozer: no task with id ${UNKNOWN_ID}. Check the id, or it may have expired.\n` });
  });

  it.each<[string[], string]>([
    [['add', '--i', '1,,2'], 'doozer: --i "1,,2": value 2 is empty; separate integers with single commas, e.g. --i 1,2,3'],
    [['add', '--i', '1.5'], 'doozer: --i "1.5": "1.5" is not an integer; use whole numbers such as 42 or -7'],
    [['mul', '--i', 'abc'], 'doozer: --i "abc": "abc" is not an integer; use whole numbers such as 42 or -7'],
    [['add', '1', 'x'], 'doozer: argument "x": "x" is not an integer; use whole numbers such as 42 or -7'],
    [['add', '1'.repeat(1_001)], `doozer: argument "${'1'.repeat(60)}…" has 1001 digits; at most 1000 are allowed`],
    [['add'], 'doozer: give the integers to add, e.g. doozer add --i 1,2,3'],
    [['lookup', 'task_123'], 'doozer: "task_123" is not a task id; task ids look like task_<uuid>'],
    [['lookup'], 'doozer: give the task id, e.g. doozer lookup --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006'],
  ])('2 for bad input, before any request: doozer %j', async (args, message) => {
    expect(await doozer(args)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    expect(server.requests).toEqual([]);
  });

  it.each<[string[], string]>([
    [['bogus'], "error: unknown command 'bogus'"],
    [['add', '1', '--bogus'], "error: unknown option '--bogus'"],
    [['token', '--password', 'x', '--password-stdin'], "error: option '--password-stdin' cannot be used with option '--password <password>'"],
    [['add', '--i'], "error: option '--i <list>' argument missing"],
  ])('2 for a usage error, pointing to help: doozer %j', async (args, message) => {
    const run = await doozer(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([message, '(run "doozer help" for usage)']);
    expect(server.requests).toEqual([]);
  });

  it('2 for --password-stdin with nothing on standard input', async () => {
    const run = await doozer(['token', '--password-stdin'], { stdin: '' });
    expect(run).toEqual({ code: 2, stdout: '', stderr: 'doozer: --password-stdin: no password on standard input\n' });
    expect(server.requests).toEqual([]);
  });

  it.each([['--username'], ['--password'], ['--url']])('2 for an empty %s, before any request', async (flag) => {
    const run = await doozer(['add', '1', flag, '']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${flag} must not be empty`);
    expect(server.requests).toEqual([]);
  });

  it('2 for a bad --timeout, before any request', async () => {
    const run = await doozer(['add', '1', '--wait', '--timeout', 'abc']);
    expect(run.code).toBe(2);
    expect(server.requests).toEqual([]);
  });

  it('3 for a wrong password, without printing it', async () => {
    const run = await doozer(['add', '1', '--username', 'alice', '--password', WRONG_PASSWORD]);
    expect(run).toEqual({
      code: 3,
      stdout: '',
      stderr:
        'doozer: authentication failed: wrong username or password. Check --username/--password (or DOOZER_USERNAME/DOOZER_PASSWORD, or the config file).\n',
    });
    expect(`${run.stdout}${run.stderr}`).not.toContain(WRONG_PASSWORD);
    expect(server.requests.map((request) => `${request.route} ${request.status}`)).toEqual(['POST /auth/token 401']);
  });

  it('3 once logins are refused after five wrong passwords, saying for how long, even with the right one', async () => {
    for (let i = 0; i < 5; i += 1) expect((await doozer(['token', '--username', 'dana', '--password', WRONG_PASSWORD])).code).toBe(3);
    const run = await doozer(['token', '--username', 'dana', '--password', TEST_USERS.dana]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^doozer: logins refused for now: too many failed logins for this user from this address; try again in \d+ s\. Check --username\/--password meanwhile\.\n$/,
    );
  });

  it('3 for a wrong password from the environment, without printing it', async () => {
    const run = await doozer(['token'], { env: { DOOZER_USERNAME: 'bob', DOOZER_PASSWORD: WRONG_PASSWORD } });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toContain(WRONG_PASSWORD);
  });

  it('4 when the store is down (503)', async () => {
    server.store.failNext('create');
    const run = await doozer(['add', '1']);
    expect(run).toEqual({
      code: 4,
      stdout: '',
      stderr: 'doozer: the service answered 503 unavailable: the service is temporarily unavailable; try again shortly\n',
    });
  });

  it('4 when nothing listens at the URL, naming it and the way to start the service', async () => {
    const run = await runDoozer(['add', '1'], { env: { DOOZER_URL: closedUrl } });
    expect(run).toEqual({
      code: 4,
      stdout: '',
      stderr: `doozer: nothing answers at ${closedUrl} (connection refused). Is the service running? Start the local stack with \`npm start\`, or point --url / DOOZER_URL at it.\n`,
    });
  });

  it('5 when --wait times out on a task no worker runs, with the id and how to look it up', async () => {
    server.consumer = 'none';
    // The API holds POST /tasks for its default 5 s before it defers the task; then 1 s of --wait.
    const run = await doozer(['add', '1', '--wait', '--timeout', '1']);
    expect(run.code).toBe(5);
    const id = TASK_ID.exec(run.stdout)?.[0];
    expect(run.stdout).toBe(`Deferred! ${id}\n`);
    expect(run.stderr).toBe(`${id} is still PENDING after 1 s; look it up later with: doozer lookup --uuid=${id}\n`);
    expect(server.count('POST /tasks')).toBe(1);
    expect(server.count('GET /tasks/:id')).toBeGreaterThan(0);
  });

  it('5 when lookup --wait times out on a pending task', async () => {
    const task = await storedTask();
    const run = await doozer(['lookup', task.id, '--wait', '--timeout', '1']);
    expect(run.code).toBe(5);
    expect(run.stdout).toBe('Status : PENDING\n');
    expect(run.stderr).toBe(`${task.id} is still PENDING after 1 s; look it up later with: doozer lookup --uuid=${task.id}\n`);
  });
});

describe('--json', () => {
  it('prints the task of add as JSON', async () => {
    const run = await doozer(['--json', 'add', '1', '2']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'add', args: [1, 2], state: 'SUCCESS', result: 3 });
  });

  it('prints a failed task as JSON, with exit 1', async () => {
    server.consumer = 'fail';
    const run = await doozer(['add', '1', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ state: 'FAILURE', error: CONSUMER_FAILURE });
  });

  it('prints the task of lookup as JSON', async () => {
    // Stored as the API stores it: the args and result in their canonical wire form.
    const task = await storedTask({ state: 'SUCCESS', args: [2, 3], result: 5 });
    const run = await doozer(['lookup', task.id, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      id: task.id,
      name: 'add',
      args: [2, 3],
      state: 'SUCCESS',
      result: 5,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
      expiresAt: new Date(task.expiresAt * 1000).toISOString(),
    });
  });

  it('prints the token as JSON', async () => {
    const run = await doozer(['token', '--json']);
    expect(run.code).toBe(0);
    const token = JSON.parse(run.stdout) as { token: string; tokenType: string; expiresIn: number };
    expect(token).toEqual({ token: expect.any(String), tokenType: 'Bearer', expiresIn: 3_600 });
    expect(subjectOf(token.token)).toBe('doozer');
  });

  it('prints the version as JSON, and as text without --json', async () => {
    expect(JSON.parse((await runDoozer(['--json', 'version'])).stdout)).toEqual({ version: clientPackage.version });
    expect(await runDoozer(['version'])).toEqual({ code: 0, stdout: `doozer ${clientPackage.version}\n`, stderr: '' });
  });
});

describe('run', () => {
  const SLEPT = /^Result: \{"slept":\d+\}\n$/;
  /** Messages queued before the test: a refused request queues none. */
  let sentBefore = 0;
  beforeEach(() => {
    sentBefore = server.queue.sent.length;
  });

  it.each<[string[], string | RegExp]>([
    [['run', 'add', '[1,2,3]'], 'Result: 6\n'],
    [['run', 'mul', '["123456789012345678901234567890", 10]'], 'Result: 1234567890123456789012345678900\n'],
    [['run', 'sleep', '{"ms":10}'], SLEPT],
    [['run', 'sleep', '--arg', 'ms=10'], SLEPT],
    [['run', 'primes', '--arg', 'below=100'], 'Result: {"below":100,"count":25}\n'],
  ])('0 with the result, JSON for results that are not numbers or text: doozer %j', async (args, stdout) => {
    const run = await doozer(args);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    if (typeof stdout === 'string') expect(run.stdout).toBe(stdout);
    else expect(run.stdout).toMatch(stdout);
    expect(server.queue.sent.at(-1)?.name).toBe(args[1]);
  });

  it('sends JSON args as typed, so the API judges a repeated key or a number JSON cannot hold, exit 6', async () => {
    const repeated = await doozer(['run', 'sleep', '{"ms":1,"ms":100000000}']);
    expect(repeated.code).toBe(6);
    expect(repeated.stderr).toContain('the body has the key "ms" more than once in one object');
    const huge = await doozer(['run', 'add', '[1e400]']);
    expect(huge.code).toBe(6);
    expect(huge.stderr).toContain('got Infinity');
    const later = await doozer(['--json', 'run', 'add', ' [1, 2] ', '--in', '20m']);
    expect(later.code).toBe(0);
    expect(JSON.parse(later.stdout)).toMatchObject({ name: 'add', args: [1, 2], state: 'SCHEDULED' });
    expect(server.queue.sent.length).toBe(sentBefore);
  });

  it("prints the API's JSON with --json", async () => {
    const run = await doozer(['--json', 'run', 'sleep', '--arg', 'ms=5']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'sleep', args: { ms: 5 }, state: 'SUCCESS', result: { slept: expect.any(Number) } });
  });

  it('1 for a task that ends in FAILURE, as add does', async () => {
    server.consumer = 'fail';
    const run = await doozer(['run', 'sleep', '{"ms":1}']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const id = TASK_ID.exec(run.stderr)?.[0];
    expect(run.stderr).toBe(`Failed! ${id}: ${CONSUMER_FAILURE.message} (${CONSUMER_FAILURE.code})\n`);
  });

  it('with --wait, prints the progress as plain lines on stderr when it is not a terminal', async () => {
    const run = await doozer(['run', 'sleep', '--arg', 'ms=3500', '--wait']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(SLEPT);
    const progress = lines(run.stderr);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress) expect(line).toMatch(/^progress \d{1,3}% \d s to go$/);
    // A line only when something changed, and the percent never goes back.
    const percents = progress.map((line) => Number(/(\d+)%/.exec(line)?.[1]));
    expect(new Set(progress).size).toBe(progress.length);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(run.stderr).not.toContain('\r');
  });

  it('5 when --wait times out, saying how to look the task up', async () => {
    server.consumer = 'none';
    const run = await doozer(['run', 'sleep', '{"ms":1}', '--wait', '--timeout', '1']);
    expect(run.code).toBe(5);
    const id = TASK_ID.exec(run.stdout)?.[0];
    expect(run.stdout).toBe(`Deferred! ${id}\n`);
    expect(run.stderr).toBe(`${id} is still PENDING after 1 s; look it up later with: doozer lookup --uuid=${id}\n`);
  });

  it.each<[string[], string]>([
    [['run', 'sleep', '{"ms":1}', '--arg', 'ms=2'], 'doozer: give the args of sleep either as one JSON argument or as --arg key=value, not both'],
    [
      ['run', 'sleep', '{ms:1}'],
      `doozer: the args "{ms:1}" are not valid JSON (Expected property name or '}' in JSON at position 1); quote them for the shell, e.g. doozer run sleep '{"ms":3000}', or use --arg key=value`,
    ],
    [['run', 'sleep', '--arg', 'ms'], 'doozer: --arg "ms" is not key=value; give one like --arg ms=3000'],
    [['run', 'sleep', '--arg', 'ms=1', '--arg', 'ms=2'], 'doozer: --arg ms is given twice; give each key once'],
  ])('2 for bad args, before any request: doozer %j', async (args, message) => {
    expect(await doozer(args)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    expect(server.requests).toEqual([]);
  });

  it.each<[string[], string]>([
    [['run'], "error: missing required argument 'task'"],
    [['run', 'sleep', '{}', 'extra'], "error: too many arguments for 'run'. Expected 2 arguments but got 3."],
    [['run', 'sleep', '--arg'], "error: option '--arg <key=value>' argument missing"],
  ])('2 for a usage error, pointing to help: doozer %j', async (args, message) => {
    const run = await doozer(args);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([message, '(run "doozer help" for usage)']);
    expect(server.requests).toEqual([]);
  });

  it.each<[string[], string, string]>([
    [['run', 'sleep', '{"ms":120001}'], 'invalid_request', 'args.ms must be at most 120000 (doozer tasks sleep shows its args)'],
    [['run', 'sleep', '--arg', 'ms=fast'], 'invalid_request', 'args.ms'],
    [['run', 'sleep'], 'invalid_request', 'args is required (doozer tasks sleep shows its args)'],
    [['run', 'nope', '{}'], 'unknown_task', `unknown task "nope"; known tasks: ${catalog.names.join(', ')}`],
  ])('6 for args the service refuses, with its message: doozer %j', async (args, code, message) => {
    const run = await doozer(args);
    expect(run.code).toBe(6);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^doozer: the service refused the request \\(400 ${code}\\): `));
    expect(run.stderr).toContain(message);
    expect(server.count('POST /tasks')).toBe(1);
    expect(server.queue.sent).toHaveLength(sentBefore);
  });

  it('shows the usage of run, with examples', async () => {
    const run = await runDoozer(['run', '--help']);
    expect(run.code).toBe(0);
    const printed = lines(run.stdout);
    expect(printed[0]).toBe('Usage: doozer run [options] <task> [args]');
    for (const flag of ['--arg <key=value>', '--wait', '--timeout <seconds>', '--json']) expect(run.stdout).toContain(flag);
    expect(printed).toContain(`  doozer run sleep '{"ms":3000}'`);
    expect(printed).toContain('  doozer run sleep --arg ms=3000 --wait');
  });
});

describe('lookup of any task', () => {
  it('prints a result that is not a number as JSON', async () => {
    const task = await storedTask({ name: 'sleep', args: { ms: 5 }, state: 'SUCCESS', result: { slept: 5 } });
    expect(await doozer(['lookup', task.id])).toEqual({ code: 0, stdout: 'Status : SUCCESS\nResult : {"slept":5}\n', stderr: '' });
  });

  it('with --wait, prints the progress the task reported once, then gives up after --timeout', async () => {
    const progress = { fraction: 0.5, done: 1_500, total: 3_000, message: '2 s to go', at: new Date().toISOString() };
    const task = await storedTask({ name: 'sleep', args: { ms: 3_000 }, progress });
    const run = await doozer(['lookup', task.id, '--wait', '--timeout', '2']);
    expect(run.code).toBe(5);
    expect(run.stdout).toBe('Status : PENDING\nProgress : 50% 2 s to go\n');
    expect(run.stderr).toBe(`progress 50% 2 s to go\n${task.id} is still PENDING after 2 s; look it up later with: doozer lookup --uuid=${task.id}\n`);
    expect(server.count('GET /tasks/:id')).toBeGreaterThanOrEqual(2);
  });
});

describe('tasks', () => {
  it('lists the task types with their args, without logging in', async () => {
    const run = await doozer(['tasks']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const printed = run.stdout.split('\n');
    for (const line of [
      'add — time limit 10 s, no retries',
      '  args:   array of 1..1000 integers (number or decimal string)',
      '  result: integer (number or decimal string)',
      'sleep — time limit 120 s, no retries',
      '    ms: integer, 0..120000',
      'primes — time limit 60 s, no retries',
      '    below: integer, 2..2000000000',
    ]) {
      expect(printed).toContain(line);
    }
    expect(server.requests.map((request) => `${request.route} ${request.status}`)).toEqual(['GET /task-types 200']);
  });

  it("prints the API's JSON with --json", async () => {
    const run = await doozer(['tasks', '--json']);
    expect(run.code).toBe(0);
    const served = await (await fetch(`${server.url}/task-types`)).json();
    expect(JSON.parse(run.stdout)).toEqual(served);
  });

  it('shows one task type when named, and 6 for an unknown one, as run says it', async () => {
    const run = await doozer(['tasks', 'sleep']);
    expect(run.code).toBe(0);
    expect(lines(run.stdout)[0]).toBe('sleep — time limit 120 s, no retries');
    expect(run.stdout).not.toContain('primes —');
    expect(await doozer(['tasks', 'nope'])).toEqual({ code: 6, stdout: '', stderr: `doozer: unknown task "nope"; known tasks: ${catalog.names.join(', ')}\n` });
  });

  it('4 when nothing listens at the URL', async () => {
    const run = await runDoozer(['tasks'], { env: { DOOZER_URL: closedUrl } });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`nothing answers at ${closedUrl}`);
  });
});

describe('list', () => {
  const CAROL = { DOOZER_USERNAME: 'carol', DOOZER_PASSWORD: TEST_USERS.carol };
  const ROW = /^(task_\S+) +(\S+) +(\S+) +(\d+[smhd])(?: +(.*))?$/;
  /** Carol's tasks, created one second apart up to a minute ago (oldest first); nothing else is hers. */
  let carols: string[] = [];

  beforeAll(async () => {
    const start = Date.now() - 60_000 - 160_000;
    for (let index = 0; index < 160; index += 1) {
      const at = new Date(start + index * 1_000).toISOString();
      const failed = index % 10 === 0;
      const task = await storedTask({
        owner: 'carol',
        name: index % 2 === 0 ? 'add' : 'mul',
        args: [index, 1],
        state: failed ? 'FAILURE' : 'SUCCESS',
        ...(failed ? { error: { code: 'timeout', message: `task ${index} ran past its 10 s limit` } } : { result: index + 1 }),
        createdAt: at,
        updatedAt: at,
      });
      carols.push(task.id);
    }
    carols = carols.reverse();
  });

  it('shows the newest 20 as a table: id, name, state, age and result or error', async () => {
    const run = await doozer(['list'], { env: CAROL });
    expect(run.code).toBe(0);
    const [header, ...rows] = lines(run.stdout);
    expect(header).toMatch(/^ID {41}NAME +STATE +AGE +RESULT$/);
    expect(rows.map((row) => ROW.exec(row)?.[1])).toEqual(carols.slice(0, 20));
    // The newest is index 159 (SUCCESS, 160), a minute or so old; index 150 failed.
    expect(ROW.exec(rows[0]!)?.slice(2)).toEqual(['mul', 'SUCCESS', expect.stringMatching(/^\d+[sm]$/), '160']);
    expect(ROW.exec(rows[9]!)?.slice(2)).toEqual(['add', 'FAILURE', expect.stringMatching(/^\d+m$/), 'timeout: task 150 ran past its 10 s limit']);
    expect(run.stderr).toMatch(/^More tasks follow: show them with --cursor \S+ \(and the same --state and --name\), or a larger --limit\.\n$/);
    expect(server.requests.filter((request) => request.route === 'GET /tasks')).toHaveLength(1);
  });

  it('pages through more than 100 with --limit 150: newest first, none twice', async () => {
    const run = await doozer(['list', '--limit', '150'], { env: CAROL });
    expect(run.code).toBe(0);
    const ids = lines(run.stdout)
      .slice(1)
      .map((row) => ROW.exec(row)?.[1]);
    expect(ids).toEqual(carols.slice(0, 150));
    expect(new Set(ids).size).toBe(150);
    // Two pages: 100, then the 50 still to show.
    expect(server.count('GET /tasks')).toBe(2);
  });

  it("prints the API's JSON with --json, and continues from its next with --cursor", async () => {
    const first = await doozer(['list', '--limit', '150', '--json'], { env: CAROL });
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    const page = JSON.parse(first.stdout) as { tasks: { id: string; state: string }[]; next: string | null };
    expect(page.tasks.map((task) => task.id)).toEqual(carols.slice(0, 150));
    expect(page.next).toEqual(expect.any(String));
    const rest = await doozer(['list', '--cursor', page.next!, '--limit', '100', '--json'], { env: CAROL });
    expect(JSON.parse(rest.stdout)).toEqual({ tasks: expect.any(Array), next: null });
    expect((JSON.parse(rest.stdout) as typeof page).tasks.map((task) => task.id)).toEqual(carols.slice(150));
  });

  it('gives one page as the API gave it for --json with --limit up to 100', async () => {
    const run = await doozer(['--json', 'list', '--limit', '5'], { env: CAROL });
    const printed = JSON.parse(run.stdout) as { tasks: unknown[]; next: string };
    expect(printed.tasks).toHaveLength(5);
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toContain('GET /tasks');
    expect(server.count('GET /tasks')).toBe(1);
    expect(printed.next).toEqual(expect.any(String));
  });

  it('filters by --state, in any case, and by --name', async () => {
    const failed = await doozer(['list', '--state', 'failure', '--limit', '100'], { env: CAROL });
    expect(failed.code).toBe(0);
    const rows = lines(failed.stdout).slice(1);
    expect(rows).toHaveLength(16);
    expect(rows.every((row) => ROW.exec(row)?.[3] === 'FAILURE')).toBe(true);
    expect(failed.stderr).toBe('');
    const muls = await doozer(['list', '--name', 'mul', '--state', 'FAILURE'], { env: CAROL });
    // Every failed task has an even index: an add.
    expect(muls).toEqual({ code: 0, stdout: 'No tasks.\n', stderr: '' });
  });

  it("shows only the caller's own tasks", async () => {
    const run = await doozer(['list', '--limit', '1000'], { env: { DOOZER_USERNAME: 'bob', DOOZER_PASSWORD: TEST_USERS.bob } });
    expect(run.stdout).not.toContain(carols[0]);
  });

  it.each<[string[], string]>([
    [['list', '--state', 'done'], 'doozer: --state "done" is not a task state; give one of SCHEDULED, PENDING, RETRY, SUCCESS, FAILURE, CANCELLED'],
    [['list', '--limit', '0'], 'doozer: --limit "0" is not a number of tasks from 1 to 1000'],
    [['list', '--limit', '1001'], 'doozer: --limit "1001" is not a number of tasks from 1 to 1000'],
    [['list', '--limit', 'all'], 'doozer: --limit "all" is not a number of tasks from 1 to 1000'],
  ])('2 for a bad flag, before any request: doozer %j', async (args, message) => {
    expect(await doozer(args)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    expect(server.requests).toEqual([]);
  });

  it("6 for what the service refuses (a name that cannot be a task's, a cursor it did not give), with its message", async () => {
    const name = await doozer(['list', '--name', 'Not A Name']);
    expect(name.code).toBe(6);
    expect(name.stderr).toMatch(/^doozer: the service refused the request \(400 invalid_request\): query\.name /);
    const cursor = await doozer(['list', '--cursor', 'not-a-cursor']);
    expect(cursor).toEqual({
      code: 6,
      stdout: '',
      stderr:
        'doozer: the service refused the request (400 invalid_request): the cursor is not one this API gave you for this listing ' +
        '(the same state and name filters); list from the start without it\n',
    });
  });
});

describe('cancel', () => {
  it('cancels a PENDING task and prints it as lookup does; cancelling it again answers the same', async () => {
    server.consumer = 'none';
    const task = await storedTask();
    expect(await doozer(['cancel', task.id])).toEqual({ code: 0, stdout: 'Status : CANCELLED\n', stderr: '' });
    expect(server.store.tasks.get(task.id)?.state).toBe('CANCELLED');
    expect(await doozer(['cancel', `--uuid=${task.id}`])).toEqual({ code: 0, stdout: 'Status : CANCELLED\n', stderr: '' });
    expect(server.requests.map((request) => `${request.route} ${request.status}`).filter((route) => route.startsWith('POST /tasks'))).toEqual([
      'POST /tasks/:id/cancel 200',
      'POST /tasks/:id/cancel 200',
    ]);
    // lookup shows it, and a cancelled task has no result: exit 1.
    expect(await doozer(['lookup', task.id])).toEqual({ code: 1, stdout: 'Status : CANCELLED\n', stderr: '' });
  });

  it('cancels a task set to run later, and prints the JSON with --json', async () => {
    const later = await doozer(['--json', 'run', 'sleep', '--arg', 'ms=1', '--in', '1h']);
    const { id } = JSON.parse(later.stdout) as { id: string };
    const run = await doozer(['cancel', id, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ id, state: 'CANCELLED', runAt: expect.any(String) });
  });

  it('1 for a task that has ended, naming its state, and leaves it as it was', async () => {
    const task = await storedTask({ state: 'SUCCESS', args: [2, 3], result: 5 });
    expect(await doozer(['cancel', task.id])).toEqual({
      code: 1,
      stdout: '',
      stderr: `doozer: ${task.id} has already ended (SUCCESS); there is nothing to cancel.\n`,
    });
    expect(server.store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 5 });
    const failed = await storedTask({ state: 'FAILURE', error: CONSUMER_FAILURE });
    expect((await doozer(['cancel', failed.id])).stderr).toContain('has already ended (FAILURE)');
  });

  it("1 for an unknown task or another user's, as lookup says", async () => {
    const carols = await storedTask({ owner: 'carol' });
    for (const id of [UNKNOWN_ID, carols.id]) {
      expect(await doozer(['cancel', id])).toEqual({ code: 1, stdout: '', stderr: `doozer: no task with id ${id}. Check the id, or it may have expired.\n` });
    }
    expect(server.store.tasks.get(carols.id)?.state).toBe('PENDING');
  });

  it.each([['cancel'], ['lookup']])('%s: 2 for two different ids, as an argument and with --uuid, before any request; the same id twice is fine', async (command) => {
    server.consumer = 'none';
    const task = await storedTask();
    expect(await doozer([command, UNKNOWN_ID, `--uuid=${task.id}`])).toEqual({
      code: 2,
      stdout: '',
      stderr: `doozer: two task ids given: "${UNKNOWN_ID}" as an argument and "${task.id}" with --uuid; give the id once, e.g. doozer ${command} task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006\n`,
    });
    expect(server.requests).toEqual([]);
    expect(server.store.tasks.get(task.id)?.state).toBe('PENDING');
    const same = await doozer([command, task.id, '--uuid', task.id]);
    expect(same.stdout).toMatch(/^Status : (PENDING|CANCELLED)\n$/);
  });

  it('2 for a missing or malformed id, before any request', async () => {
    expect(await doozer(['cancel'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'doozer: give the task id, e.g. doozer cancel --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006\n',
    });
    expect((await doozer(['cancel', 'task_nope'])).code).toBe(2);
    expect(server.requests).toEqual([]);
  });
});

describe('--at and --in: tasks to run later', () => {
  const SCHEDULED_OUTPUT = /^Scheduled! (task_\S+)\nStatus : (SCHEDULED|PENDING)\nRun at : (\S+) \(in ([\dsmhd]+)\)\n$/;

  it('--in 20m sets a task to run in 20 minutes: SCHEDULED, printed at once, nothing queued yet', async () => {
    const before = Date.now();
    const run = await doozer(['add', '1', '2', '--in', '20m']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const [, id, state, runAt, left] = SCHEDULED_OUTPUT.exec(run.stdout) ?? [];
    expect([state, left]).toEqual(['SCHEDULED', '20m']);
    expect(Date.parse(runAt!) - before).toBeGreaterThanOrEqual(1_200_000);
    expect(Date.parse(runAt!) - Date.now()).toBeLessThanOrEqual(1_200_000);
    expect(server.store.tasks.get(id!)).toMatchObject({ state: 'SCHEDULED', runAt, args: [1, 2] });
    expect(server.queue.sent.some((message) => message.taskId === id)).toBe(false);
    expect(server.requests.map((request) => `${request.route} ${request.status}`)).toContain('POST /tasks 202');
  });

  it('--in 5m sets one PENDING, queued with the delay', async () => {
    const run = await doozer(['run', 'sleep', '--arg', 'ms=1', '--in', '5m']);
    expect(run.code).toBe(0);
    const [, id, state, , left] = SCHEDULED_OUTPUT.exec(run.stdout) ?? [];
    expect([state, left]).toEqual(['PENDING', '5m']);
    expect(server.queue.delays.get(id!)).toBeGreaterThanOrEqual(299);
    expect(server.queue.delays.get(id!)).toBeLessThanOrEqual(300);
  });

  it('--at sends the time given, with its zone, and --json prints the task', async () => {
    const at = new Date(Date.now() + 2 * 3_600_000);
    at.setUTCSeconds(0, 0);
    const offsetTime = new Date(at.getTime() + 3_600_000).toISOString().slice(0, 16) + '+01:00';
    const run = await doozer(['--json', 'mul', '--i', '2,3', '--at', offsetTime]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'mul', args: [2, 3], state: 'SCHEDULED', runAt: at.toISOString() });
  });

  it("--at reads a time without a zone as the machine's local time", async () => {
    // Asia/Kolkata is UTC+05:30 all year.
    const at = new Date(Date.now() + 3 * 3_600_000);
    at.setUTCSeconds(0, 0);
    const local = new Date(at.getTime() + 330 * 60_000).toISOString().slice(0, 16).replace('T', ' ');
    const run = await doozer(['--json', 'add', '7', '--at', local], { env: { TZ: 'Asia/Kolkata' } });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ runAt: at.toISOString() });
  });

  it('6 for --at in the past or --in beyond 7 days, with the service message', async () => {
    const past = await doozer(['add', '1', '--at', '2020-01-01T00:00Z']);
    expect(past).toEqual({
      code: 6,
      stdout: '',
      stderr:
        'doozer: the service refused the request (400 invalid_request): runAt 2020-01-01T00:00:00.000Z is in the past; give a time in the future (tasks can run at most 7 days (604800 s) ahead)\n',
    });
    const far = await doozer(['run', 'sleep', '--arg', 'ms=1', '--in', '8d']);
    expect(far.code).toBe(6);
    expect(far.stderr).toContain('delaySeconds is 691200; tasks can run at most 7 days (604800 s) ahead');
    expect(far.stderr).not.toContain('doozer tasks sleep');
    expect(server.count('POST /tasks')).toBe(2);
  });

  it.each<[string[], string]>([
    [['add', '1', '--in', '5x'], 'doozer: --in "5x" is not a duration; give one such as 90s, 20m, 2h, 1d, 1h30m, or plain seconds (600)'],
    [['add', '1', '--in', '0'], 'doozer: --in "0" is no delay at all; to run the task now, leave --in out'],
    [
      ['mul', '2', '--at', 'tomorrow'],
      'doozer: --at "tomorrow" is not a time; give an ISO 8601 time, such as 2026-12-01T18:30Z, 2026-12-01T18:30+01:00, or 2026-12-01T18:30 (your local time)',
    ],
    [
      ['run', 'sleep', '{"ms":1}', '--at', '2026-02-30T10:00Z'],
      'doozer: --at "2026-02-30T10:00Z" is not a valid date and time; give one such as 2026-12-01T18:30Z, 2026-12-01T18:30+01:00, or 2026-12-01T18:30 (your local time)',
    ],
  ])('2 for a bad --in or --at, before any request: doozer %j', async (args, message) => {
    expect(await doozer(args)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    expect(server.requests).toEqual([]);
  });

  it.each<[string[], string]>([
    [['add', '1', '2', '--in', '20', 'min'], 'doozer: --in takes the duration as one word: --in 20m (got "--in 20 min")'],
    [['mul', '--in', '20', 'min', '2', '3'], 'doozer: --in takes the duration as one word: --in 20m (got "--in 20 min")'],
    [['run', 'sleep', '--arg', 'ms=1', '--in', '20', 'min'], 'doozer: --in takes the duration as one word: --in 20m (got "--in 20 min")'],
    [['run', 'sleep', '{"ms":1}', '--in', '2', 'hours'], 'doozer: --in takes the duration as one word: --in 2h (got "--in 2 hours")'],
    [['add', '1', '--in', '1h', '30m'], 'doozer: --in takes the duration as one word: --in 1h30m (got "--in 1h 30m")'],
  ])('2 for a duration given as two words, naming --in, before any request: doozer %j', async (args, message) => {
    expect(await doozer(args)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    expect(server.requests).toEqual([]);
  });

  it.each<[string[], string]>([
    [['add', '1', '--in', '5m', '--at', '2026-12-01T18:30Z'], "error: option '--at <time>' cannot be used with option '--in <duration>'"],
    [['run', 'sleep', '{"ms":1}', '--in', '5m', '--wait'], "error: option '--in <duration>' cannot be used with option '--wait'"],
  ])('2 for --at with --in, or either with --wait: doozer %j', async (args, message) => {
    const run = await doozer(args);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([message, '(run "doozer help" for usage)']);
    expect(server.requests).toEqual([]);
  });

  it('documents both in the usage of add, mul and run', async () => {
    for (const command of ['add', 'mul', 'run']) {
      const run = await runDoozer([command, '--help']);
      expect(run.stdout).toContain('--at <time>');
      expect(run.stdout).toContain('--in <duration>');
      expect(run.stdout).toContain("A time\nwithout a zone is this machine's local time (TZ)");
    }
  });
});

describe('batch', () => {
  const TASK_LINE = (line: number | string, state = 'PENDING') => new RegExp(`^line +${line}  task_[0-9a-f-]{36}  ${state}$`);
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'doozer-batch-'));
    tempRoots.push(folder);
  });
  beforeEach(() => {
    // The tasks stay PENDING: what is printed is what the API answered, not what a worker did after.
    server.consumer = 'none';
  });

  async function batchFile(name: string, content: string): Promise<string> {
    const path = join(folder, name);
    await writeFile(path, content);
    return path;
  }

  it('1 when any line is refused: one line per request, in order, bad JSON never sent', async () => {
    const file = await batchFile(
      'mixed.jsonl',
      [
        '{"name":"add","args":[1,2]}',
        '',
        '{"name":"add","args":[1.5]}',
        '{"name":"add", args: [1]}',
        '{"name":"nope","args":[]}',
        '{"name":"sleep","args":{"ms":5},"delaySeconds":1200}',
        '   ',
        '{"name":"mul","args":[6,7]}',
        '',
      ].join('\n'),
    );
    const run = await doozer(['batch', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const printed = lines(run.stdout);
    expect(printed).toHaveLength(6);
    expect(printed[0]).toMatch(TASK_LINE(1));
    expect(printed[1]).toMatch(/^line 3  error invalid_request: args\[0\] /);
    expect(printed[2]).toMatch(/^line 4  error invalid_json: not JSON \(.+\); give one task request per line$/);
    expect(printed[3]).toBe(`line 5  error unknown_task: unknown task "nope"; known tasks: ${catalog.names.join(', ')}`);
    expect(printed[4]).toMatch(/^line 6  task_[0-9a-f-]{36}  SCHEDULED  runs in 20m$/);
    expect(printed[5]).toMatch(TASK_LINE(8));
    // One request for the five lines that parsed; three tasks made.
    expect(server.requests.map((request) => `${request.route} ${request.status}`).filter((route) => route.startsWith('POST /tasks'))).toEqual([
      'POST /tasks/batch 200',
    ]);
    const ids = printed.map((line) => TASK_ID.exec(line)?.[0]).filter((id) => id !== undefined);
    expect(ids.map((id) => server.store.tasks.get(id!)?.name)).toEqual(['add', 'sleep', 'mul']);
  });

  it("sends each line's own text, so the API judges what the file says: a key given twice is not sent, 1e400 is Infinity", async () => {
    const file = await batchFile(
      'as-it-is.jsonl',
      [
        '{"name":"add","args":[1,2]}',
        '{"name":"add","args":[3],"name":"mul"}',
        '{"name":"add","args":[1e400]}',
        '{ "name" : "\\u006dul" , "args" : [ 6 , 7 ] }',
      ].join('\n'),
    );
    const run = await doozer(['batch', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const printed = lines(run.stdout);
    expect(printed).toEqual([
      expect.stringMatching(TASK_LINE(1)),
      'line 2  error invalid_request: the line has the key "name" more than once in one object; give each key once (not sent)',
      expect.stringMatching(/^line 3  error invalid_request: args\[0\] .*got Infinity/),
      expect.stringMatching(TASK_LINE(4)),
    ]);
    // One request, for the three lines sent; no task runs as the mul line 2 ended with.
    expect(server.count('POST /tasks/batch')).toBe(1);
    const ids = printed.map((line) => TASK_ID.exec(line)?.[0]).filter((id) => id !== undefined);
    expect(ids.map((id) => server.store.tasks.get(id!))).toEqual([
      expect.objectContaining({ name: 'add', args: [1, 2] }),
      expect.objectContaining({ name: 'mul', args: [6, 7] }),
    ]);
  });

  it('1 for a line larger than a batch request holds: reported on its own, not sent, the other lines sent', async () => {
    const huge = JSON.stringify({ name: 'sleep', args: { ms: 1, pad: 'x'.repeat(1024 * 1024) } });
    const file = await batchFile('huge.jsonl', ['{"name":"add","args":[1]}', huge, '{"name":"add","args":[2]}'].join('\n'));
    const run = await doozer(['batch', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(lines(run.stdout)).toEqual([
      expect.stringMatching(TASK_LINE(1)),
      `line 2  error payload_too_large: this line is ${Buffer.byteLength(huge)} bytes; a batch request holds at most 1 MiB (1048576 bytes), so it was not sent (a task is at most 64 KiB)`,
      expect.stringMatching(TASK_LINE(3)),
    ]);
    expect(server.requests.map((request) => `${request.route} ${request.status}`).filter((route) => route.startsWith('POST /tasks'))).toEqual([
      'POST /tasks/batch 200',
    ]);
  });

  it('0 for a file of 250 requests, sent in chunks of 100', async () => {
    const requests = Array.from({ length: 250 }, (_, index) => JSON.stringify({ name: 'add', args: [index, 1] }));
    const run = await doozer(['batch', await batchFile('many.jsonl', requests.join('\n'))]);
    expect(run.code).toBe(0);
    const printed = lines(run.stdout);
    expect(printed).toHaveLength(250);
    printed.forEach((line, index) => expect(line).toMatch(TASK_LINE(index + 1)));
    expect(new Set(printed.map((line) => TASK_ID.exec(line)?.[0])).size).toBe(250);
    expect(server.count('POST /tasks/batch')).toBe(3);
    // Not a terminal: no progress bar.
    expect(run.stderr).toBe('');
  });

  it('reads standard input for -', async () => {
    const run = await doozer(['batch', '-'], { stdin: '{"name":"add","args":[1,2]}\n{"name":"mul","args":[3,4]}\n' });
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([expect.stringMatching(TASK_LINE(1)), expect.stringMatching(TASK_LINE(2))]);
  });

  it('prints one JSON object per line with --json', async () => {
    const run = await doozer(['--json', 'batch', '-'], { stdin: '{"name":"add","args":[1]}\nnope\n' });
    expect(run.code).toBe(1);
    const printed = lines(run.stdout).map((line) => JSON.parse(line) as unknown);
    expect(printed).toEqual([
      { line: 1, task: expect.objectContaining({ name: 'add', args: [1], state: 'PENDING' }) },
      { line: 2, error: { code: 'invalid_json', message: expect.stringContaining('not JSON') } },
    ]);
  });

  it('makes the tasks once when sent again with the same --idempotency-key', async () => {
    const file = await batchFile('again.jsonl', '{"name":"add","args":[1]}\n{"name":"add","args":[2]}\n');
    const first = await doozer(['batch', file, '--idempotency-key', 'nightly-2026-12-01']);
    const again = await doozer(['batch', file, '--idempotency-key', 'nightly-2026-12-01']);
    expect(first.code).toBe(0);
    expect(again).toEqual(first);
    expect(server.count('POST /tasks/batch')).toBe(2);
    const ids = lines(first.stdout).map((line) => TASK_ID.exec(line)?.[0]);
    expect(ids.every((id) => server.store.tasks.has(id!))).toBe(true);
  });

  it('4 for every line of a chunk the service refused whole with a 503: an outage, nothing wrong with the lines', async () => {
    server.store.failNext('createMany');
    const run = await doozer(['batch', '-'], { stdin: '{"name":"add","args":[1]}\n{"name":"add","args":[2]}\n' });
    expect(run).toEqual({
      code: 4,
      stdout:
        'line 1  error unavailable: the service is temporarily unavailable; try again shortly\n' +
        'line 2  error unavailable: the service is temporarily unavailable; try again shortly\n',
      stderr: 'doozer: 2 lines were not accepted for an outage (unavailable, too_many_requests, unreachable or not_sent); nothing is wrong with them: send them again later.\n',
    });
    const json = await doozer(['--json', 'batch', '-'], { stdin: '{"name":"add","args":[1]}\n' });
    expect(json.code).toBe(0);
    server.store.failNext('createMany');
    const refused = await doozer(['--json', 'batch', '-'], { stdin: '{"name":"add","args":[1]}\n' });
    expect(refused.code).toBe(4);
    expect(JSON.parse(refused.stdout)).toEqual({
      line: 1,
      error: { code: 'unavailable', message: 'the service is temporarily unavailable; try again shortly', status: 503 },
    });
  });

  it('4 for items refused unavailable, but 1 when a line is also refused for something in it', async () => {
    // The queue is down: a task to run now cannot be queued; one set to run later need not be yet.
    server.queue.failing = true;
    try {
      const stdin = '{"name":"add","args":[1]}\n{"name":"sleep","args":{"ms":5},"delaySeconds":1200}\n';
      const outage = await doozer(['batch', '-'], { stdin });
      expect(outage.code).toBe(4);
      expect(lines(outage.stdout)).toEqual([
        'line 1  error unavailable: the task could not be recorded or queued; submit it again',
        expect.stringMatching(/^line 2  task_[0-9a-f-]{36}  SCHEDULED  runs in 20m$/),
      ]);
      expect(outage.stderr).toBe(
        'doozer: 1 line was not accepted for an outage (unavailable, too_many_requests, unreachable or not_sent); nothing is wrong with it: send it again later.\n',
      );
      const mixed = await doozer(['batch', '-'], { stdin: `${stdin}{"name":"nope","args":[]}\n` });
      expect(mixed.code).toBe(1);
      expect(lines(mixed.stdout)[0]).toBe('line 1  error unavailable: the task could not be recorded or queued; submit it again');
      expect(lines(mixed.stdout)[2]).toMatch(/^line 3  error unknown_task: /);
    } finally {
      server.queue.failing = false;
    }
  });

  it('4 when the service is unreachable, before any line is sent', async () => {
    const run = await runDoozer(['batch', '-'], { env: { DOOZER_URL: closedUrl }, stdin: '{"name":"add","args":[1]}\n' });
    expect(run.code).toBe(4);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`nothing answers at ${closedUrl} (connection refused)`);
  });

  it('3 when authentication fails mid-batch, sending no chunk after it', async () => {
    // A token cached for carol with a wrong password, that the service refuses: no login before the
    // first chunk, whose 401 then makes the client log in again, with the wrong password.
    const home = await newHome();
    const cacheKey = createHash('sha256').update(JSON.stringify([server.url, 'carol', WRONG_PASSWORD])).digest('base64url');
    await mkdir(join(home.cacheHome, 'doozer'), { recursive: true });
    await writeFile(home.tokenFile, JSON.stringify({ [cacheKey]: { token: 'not-a-token', expiresAt: Date.now() + 3_600_000 } }));
    const requests = Array.from({ length: 150 }, (_, index) => JSON.stringify({ name: 'add', args: [index] }));
    const run = await doozer(['batch', '-'], { home, stdin: requests.join('\n'), env: { DOOZER_USERNAME: 'carol', DOOZER_PASSWORD: WRONG_PASSWORD } });
    expect(run.code).toBe(3);
    const printed = lines(run.stdout);
    expect(printed).toHaveLength(150);
    expect(printed[0]).toMatch(/^line   1  error unauthorized: /);
    expect(printed[99]).toMatch(/^line 100  error unauthorized: /);
    expect(printed[100]).toMatch(/^line 101  error not_sent: not sent: authentication failed \(.+\)$/);
    expect(printed[149]).toMatch(/^line 150  error not_sent: /);
    expect(run.stderr).toMatch(/^doozer: authentication failed: .+\. Check --username\/--password .+; the lines after it were not sent\.\n$/);
    expect(server.requests.map((request) => `${request.route} ${request.status}`)).toEqual(['POST /tasks/batch 401', 'POST /auth/token 401']);
  });

  it('with --wait, prints each task as it ended, with its result', async () => {
    server.consumer = 'run';
    const run = await doozer(['batch', '-', '--wait'], { stdin: '{"name":"add","args":[1,2]}\n{"name":"sleep","args":{"ms":300}}\n{"name":"mul","args":[6,7]}\n' });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(lines(run.stdout)).toEqual([
      expect.stringMatching(/^line 1  task_[0-9a-f-]{36}  SUCCESS  3$/),
      expect.stringMatching(/^line 2  task_[0-9a-f-]{36}  SUCCESS  \{"slept":\d+\}$/),
      expect.stringMatching(/^line 3  task_[0-9a-f-]{36}  SUCCESS  42$/),
    ]);
  });

  it('with --wait, 1 when a task fails, with its error', async () => {
    server.consumer = 'fail';
    const run = await doozer(['batch', '-', '--wait', '--json'], { stdin: '{"name":"add","args":[1]}\n' });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ line: 1, task: expect.objectContaining({ state: 'FAILURE', error: CONSUMER_FAILURE }) });
  });

  it('with --wait, 5 when tasks are still open after --timeout, saying how to follow them', async () => {
    const run = await doozer(['batch', '-', '--wait', '--timeout', '1'], { stdin: '{"name":"add","args":[1]}\n{"name":"add","args":[2]}\n' });
    expect(run.code).toBe(5);
    expect(lines(run.stdout)).toEqual([expect.stringMatching(TASK_LINE(1)), expect.stringMatching(TASK_LINE(2))]);
    expect(run.stderr).toBe('2 of the tasks still open after 1 s; see how they end with: doozer list, or doozer lookup <id>\n');
  });

  it('with --wait, does not wait for tasks set to run after --timeout: 0, each printed with when it runs', async () => {
    server.consumer = 'run';
    const startedAt = Date.now();
    const run = await doozer(['batch', '-', '--wait', '--timeout', '30'], {
      stdin: '{"name":"add","args":[1,2]}\n{"name":"sleep","args":{"ms":5},"delaySeconds":1200}\n{"name":"mul","args":[6,7],"delaySeconds":300}\n',
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(lines(run.stdout)).toEqual([
      expect.stringMatching(/^line 1  task_[0-9a-f-]{36}  SUCCESS  3$/),
      expect.stringMatching(/^line 2  task_[0-9a-f-]{36}  SCHEDULED  runs in 20m$/),
      expect.stringMatching(/^line 3  task_[0-9a-f-]{36}  PENDING  runs in (5m|4m59s)$/),
    ]);
    // Not the 30 s of --timeout: only the task to run now was waited for.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    const added = TASK_ID.exec(run.stdout)![0];
    const lookups = server.requests.filter((request) => request.route === 'GET /tasks/:id');
    expect(lookups.length).toBeGreaterThan(0);
    expect(lookups.every((request) => request.path === `/tasks/${added}`)).toBe(true);
  });

  it('with --wait, 5 still for a task to run later that was due before --timeout ran out', async () => {
    // No worker: the task due in 1 s is waited for, and still PENDING when the 3 s run out.
    const run = await doozer(['batch', '-', '--wait', '--timeout', '3', '--json'], { stdin: '{"name":"add","args":[1],"delaySeconds":1}\n' });
    expect(run.code).toBe(5);
    expect(run.stderr).toBe('1 of the tasks still open after 3 s; see how they end with: doozer list, or doozer lookup <id>\n');
    expect(JSON.parse(run.stdout)).toEqual({ line: 1, task: expect.objectContaining({ state: 'PENDING', runAt: expect.any(String) }) });
  });

  it('with --wait, 4 when the service stops answering during the wait, printing the tasks as last seen', async () => {
    server.store.failNext('get');
    const run = await doozer(['batch', '-', '--wait', '--timeout', '30'], { stdin: '{"name":"add","args":[1]}\n' });
    expect(run.code).toBe(4);
    expect(lines(run.stdout)).toEqual([expect.stringMatching(TASK_LINE(1))]);
    expect(run.stderr).toBe(
      'doozer: stopped waiting: the service is temporarily unavailable; try again shortly; the tasks were accepted: see how they end with: doozer list, or doozer lookup <id>\n',
    );
  });

  it.each<[string, string[], string, string]>([
    ['a file that does not exist', ['batch', '/nonexistent/tasks.jsonl'], '', 'doozer: no such file: /nonexistent/tasks.jsonl'],
    ['a directory', ['batch', tmpdir()], '', `doozer: ${tmpdir()} is a directory; give a file of one task request a line, or - for standard input`],
    ['an input of blank lines', ['batch', '-'], '\n  \n', 'doozer: standard input holds no task requests (blank lines are skipped)'],
    ['standard input read twice', ['batch', '-', '--password-stdin'], 'doozer\n', 'doozer: batch - and --password-stdin both read standard input; give the password another way'],
    [
      'an idempotency key that is not ASCII',
      ['batch', '-', '--idempotency-key', 'clé'],
      '{"name":"add","args":[1]}',
      'doozer: --idempotency-key must be 1 to 253 printable ASCII characters (each chunk of 100 sends it with -1, -2, … added)',
    ],
  ])('2 for %s, before any request', async (_case, args, stdin, message) => {
    expect(await doozer(args, { stdin })).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    expect(server.requests).toEqual([]);
  });

  it('3 for a wrong password, before any line is sent', async () => {
    const run = await doozer(['batch', '-', '--username', 'alice', '--password', WRONG_PASSWORD], { stdin: '{"name":"add","args":[1]}' });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(server.count('POST /tasks/batch')).toBe(0);
  });
});

describe('help', () => {
  const EXIT_CODE_LINES = [
    'Exit codes:',
    '  0  done (or deferred, without --wait; or set to run later)',
    '  1  the task failed or was cancelled, no such task, a task to cancel had ended,',
    '     or a batch line was refused for something in it',
    '  2  usage error, found before any request: a bad flag, number, JSON or setting',
    '  3  authentication failed, or logins refused for a while (too many wrong passwords)',
    '  4  the service is unreachable or answered 5xx, or 429 (too many requests) still',
    '     after one retry or asking to wait over 5 s (batch: lines refused only for those)',
    '  5  deferred, and --wait timed out',
    '  6  the service refused the request (a 4xx: bad args, an unknown task, a --at in',
    '     the past, a callback URL it will not call), with its message',
  ];

  it.each([[['help']], [['--help']], [[]]])('doozer %j lists the commands, the flags and the exit codes', async (args) => {
    const run = await runDoozer(args);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const printed = lines(run.stdout);
    // The original client's lines, byte for byte, and the new commands among them in order.
    const commands = printed.slice(printed.indexOf('Available Commands:') + 1, printed.indexOf('Flags:'));
    expect(commands).toEqual([
      '  add         Add api call.',
      '  batch       Submit the tasks of a file, one JSON request a line.',
      '  cancel      Cancel a task that has not ended.',
      '  help        Help about any command',
      '  list        List your tasks, newest first.',
      '  lookup      Lookup a task uuid.',
      '  mul         Multiply api call.',
      '  run         Run a task with its args.',
      '  tasks       List the task types and their args.',
      '  token       Print a JWT token.',
      '  version     Print the version.',
    ]);
    for (const flag of ['--url <url>', '--username <name>', '--password-stdin', '--json']) expect(run.stdout).toContain(flag);
    expect(printed).toEqual(expect.arrayContaining(EXIT_CODE_LINES));
  });

  it.each([[['add', '--help']], [['help', 'add']]])('doozer %j shows the usage of add, an example and the exit codes', async (args) => {
    const run = await runDoozer(args);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const printed = lines(run.stdout);
    expect(printed[0]).toBe('Usage: doozer add [options] [integers...]');
    expect(run.stdout).toContain('--i <list>');
    expect(run.stdout).toContain('--wait');
    expect(run.stdout).toContain('--timeout <seconds>');
    expect(printed).toContain('  doozer add --i 1,2,3,4,5,6');
    expect(printed).toEqual(expect.arrayContaining(EXIT_CODE_LINES));
    for (const flag of ['--url <url>', '--password-stdin', '--json']) expect(run.stdout).toContain(flag);
    expect(server.requests).toEqual([]);
  });
});
