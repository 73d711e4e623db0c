/**
 * `--callback`, the webhook delivery that `lookup` and `list` show, and how the CLI meets a 429: the
 * bundled binary in its own process, mostly against a scripted API (test/support/scripted-api.ts),
 * which answers what the contract says when told (a 429 with a chosen Retry-After, a delivery in
 * any state) and records each request's body as the CLI sent it; and against the real app
 * (test/support/cli-server.ts) for what it judges of a callback URL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TaskView } from '../../client/src/types.ts';
import { type CliServer, startCliServer } from '../support/cli-server.ts';
import { checkBundleIsFresh, cliEnvironment, runCli } from '../support/run-cli.ts';
import { type ScriptedAnswer, type ScriptedApi, type ScriptedRequest, startScriptedApi } from '../support/scripted-api.ts';

const ID = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';
const HOOK = 'https://example.com/hooks/doozer';

let api: ScriptedApi;
let server: CliServer;

/** Runs the binary against the scripted API, in a home of its own (so it always logs in first). */
async function doozer(args: readonly string[], stdin = '') {
  return runCli(args, await cliEnvironment({ DOOZER_URL: api.url }), stdin);
}

function view(overrides: Partial<TaskView> = {}): TaskView {
  return {
    id: ID,
    name: 'add',
    args: [1, 2],
    state: 'PENDING',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    ...overrides,
  };
}

/** The task a POST /tasks asked for, as the API would answer it: its fields echoed, in `state`. */
const echo =
  (status: number, overrides: Partial<TaskView> = {}) =>
  (request: ScriptedRequest): ScriptedAnswer => {
    const { name, args, callbackUrl } = JSON.parse(request.body) as Partial<TaskView>;
    return { status, body: view({ name: name!, args, ...(callbackUrl !== undefined && { callbackUrl }), ...overrides }) };
  };

const RATE_LIMIT = { 'ratelimit-limit': '60', 'ratelimit-remaining': '0', 'ratelimit-reset': '1' };

/** A 429 of the rate limit: RateLimit-Remaining 0, and Retry-After when given. */
function tooMany(retryAfter?: number, message = 'too many requests: at most 60 a minute'): ScriptedAnswer {
  return {
    status: 429,
    headers: { ...RATE_LIMIT, ...(retryAfter !== undefined && { 'retry-after': String(retryAfter) }) },
    body: { error: { code: 'too_many_requests', message } },
  };
}

beforeAll(async () => {
  await checkBundleIsFresh();
  [api, server] = await Promise.all([startScriptedApi(), startCliServer()]);
});

afterAll(async () => {
  await Promise.all([api?.close(), server?.close()]);
});

beforeEach(() => api.reset());

describe('--callback', () => {
  it.each<[string, string[], unknown]>([
    ['add', ['add', '1', '2'], [1, 2]],
    ['mul', ['mul', '--i', '6,7'], [6, 7]],
    ['run', ['run', 'add', '[1,2]'], [1, 2]],
  ])('%s sends callbackUrl beside name and args, and prints the result as ever, then where the webhook goes', async (name, args, sentArgs) => {
    api.script('POST /tasks', echo(200, { state: 'SUCCESS', result: 3 }));
    const run = await doozer([...args, '--callback', HOOK]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(new RegExp(`^Result: 3\\nWebhook: ${HOOK.replace(/[.?]/g, '\\$&')} \\(doozer lookup task_[0-9a-f-]+ shows the delivery\\)\\n$`));
    const [post] = api.to('POST /tasks');
    expect(JSON.parse(post!.body)).toEqual({ name: name === 'run' ? 'add' : name, args: sentArgs, callbackUrl: HOOK });
  });

  it('goes with --in too, the URL as typed', async () => {
    const hook = 'http://127.0.0.1:8080/hook?task=sleep';
    api.script('POST /tasks', echo(202, { state: 'SCHEDULED', runAt: new Date(Date.now() + 20 * 60_000).toISOString() }));
    const run = await doozer(['run', 'sleep', '--arg', 'ms=10', '--in', '20m', '--callback', hook]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Scheduled! task_/);
    expect(JSON.parse(api.to('POST /tasks')[0]!.body)).toEqual({ name: 'sleep', args: { ms: 10 }, delaySeconds: 1_200, callbackUrl: hook });
  });

  it.each<[string[], string]>([
    [['add', '1', '--callback', 'example.com/hook'], '--callback "example.com/hook" is not an absolute URL; give one with its scheme and host, e.g. --callback https://example.com/hooks/doozer'],
    [['mul', '2', '3', '--callback', 'ftp://example.com/hook'], '--callback "ftp://example.com/hook" uses ftp:; the service calls only http: and https: URLs, e.g. --callback https://example.com/hooks/doozer'],
    [['run', 'sleep', '{"ms":1}', '--callback', 'https:example.com'], '--callback "https:example.com" needs // and a host after https:, e.g. --callback https://example.com/hooks/doozer'],
    [['add', '1', '--callback', ''], '--callback needs a URL, e.g. --callback https://example.com/hooks/doozer'],
  ])('refuses a URL that is not absolute http(s) with exit 2, sending nothing: doozer %j', async (args, message) => {
    expect(await doozer(args)).toEqual({ code: 2, stdout: '', stderr: `doozer: ${message}\n` });
    expect(api.requests).toEqual([]);
  });

  it('is in the help of add, mul and run, and batch says a line may carry callbackUrl', async () => {
    for (const command of ['add', 'mul', 'run']) expect((await doozer([command, '--help'])).stdout).toMatch(/--callback <url> +when the task ends, the service POSTs its JSON/);
    expect((await doozer(['batch', '--help'])).stdout).toContain('and "callbackUrl" to have the service');
  });
});

describe('--callback against the real app', () => {
  const real = async (args: readonly string[]) => runCli(args, await cliEnvironment({ DOOZER_URL: server.url }));

  it('records the callbackUrl with the task, and lookup shows the delivery once it has ended', async () => {
    server.consumer = 'run';
    const hook = 'http://127.0.0.1:9/hook';
    const added = await real(['add', '1', '2', '--callback', hook, '--json']);
    expect(added.code).toBe(0);
    const task = JSON.parse(added.stdout) as TaskView;
    // No notifier runs here: the delivery stays as the task's end left it.
    expect(task).toMatchObject({ state: 'SUCCESS', result: 3, callbackUrl: hook, webhook: { state: 'pending', attempts: 0 } });
    expect((await server.store.get(task.id))?.callbackUrl).toBe(hook);
    const looked = await real(['lookup', task.id]);
    expect(looked).toEqual({ code: 0, stdout: 'Status : SUCCESS\nResult : 3\nWebhook : pending (not sent yet)\n', stderr: '' });
  });

  it("passes on the service's refusal of a URL it will not call: exit 6 with its reason", async () => {
    const run = await real(['add', '1', '2', '--callback', 'https://169.254.169.254/latest/meta-data']);
    expect(run.code).toBe(6);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^doozer: the service refused the request \(400 invalid_request\): .*callbackUrl/);
  });
});

describe('the webhook delivery of an ended task', () => {
  it.each<[TaskView['webhook'], string]>([
    [{ id: 'msg_1', state: 'delivered', attempts: 1, lastStatus: 204 }, 'delivered (1 attempt, HTTP 204)'],
    [{ id: 'msg_1', state: 'failed', attempts: 6, lastStatus: 500 }, 'failed (6 attempts, last HTTP 500)'],
    [
      { id: 'msg_1', state: 'pending', attempts: 2, lastError: 'connection refused', nextAttemptAt: '2020-01-01T00:00:00.000Z' },
      'pending (2 attempts, last error: connection refused, next at 2020-01-01T00:00:00.000Z)',
    ],
  ])('lookup shows it under the result: %j', async (webhook, line) => {
    api.script('GET /tasks/:id', { status: 200, body: view({ state: 'SUCCESS', result: 3, callbackUrl: HOOK, webhook }) });
    expect(await doozer(['lookup', ID])).toEqual({ code: 0, stdout: `Status : SUCCESS\nResult : 3\nWebhook : ${line}\n`, stderr: '' });
  });

  it('list shows it in a WEBHOOK column', async () => {
    const webhook = { id: 'msg_1', state: 'pending', attempts: 1, lastStatus: 503 } as const;
    api.script('GET /tasks', { status: 200, body: { tasks: [view({ state: 'SUCCESS', result: 3, callbackUrl: HOOK, webhook })], next: null } });
    const run = await doozer(['list']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID +NAME +STATE +AGE +WEBHOOK +RESULT$/);
    expect(run.stdout.split('\n')[1]).toMatch(new RegExp(`^${ID} +add +SUCCESS +\\d+s +pending HTTP 503 +3$`));
  });
});

describe('429 too many requests', () => {
  it('waits out a Retry-After of 1 s and sends the task once more, saying so on stderr', async () => {
    api.script('POST /tasks', tooMany(1), echo(202));
    const run = await doozer(['add', '1', '2', '--callback', HOOK]);
    expect(run).toEqual({ code: 0, stdout: `Deferred! ${ID}\n`, stderr: 'doozer: rate limited (RateLimit-Remaining 0); retrying in 1 s\n' });
    const posts = api.to('POST /tasks');
    expect(posts).toHaveLength(2);
    expect(posts[1]!.body).toBe(posts[0]!.body);
  });

  it('does not wait for a Retry-After over 5 s: exit 4, naming the wait', async () => {
    api.script('POST /tasks', tooMany(60));
    expect(await doozer(['add', '1', '2'])).toEqual({
      code: 4,
      stdout: '',
      stderr:
        'doozer: the service refused the request (429 too_many_requests): too many requests: at most 60 a minute (RateLimit-Remaining 0); it asks to wait 60 s, longer than doozer waits (5 s): try again in 60 s.\n',
    });
    expect(api.to('POST /tasks')).toHaveLength(1);
  });

  it('retries once only: a second 429 is exit 4, with the wait it asks for', async () => {
    api.script('GET /tasks/:id', tooMany(0), tooMany(2));
    expect(await doozer(['lookup', ID])).toEqual({
      code: 4,
      stdout: '',
      stderr:
        'doozer: rate limited (RateLimit-Remaining 0); retrying in 0 s\n' +
        'doozer: the service refused the request again after one retry (429 too_many_requests): too many requests: at most 60 a minute (RateLimit-Remaining 0); try again in 2 s.\n',
    });
    expect(api.to('GET /tasks/:id')).toHaveLength(2);
  });

  it('names the open-task limit when that is what refused it', async () => {
    const full = { status: 429, headers: { 'ratelimit-remaining': '41', 'retry-after': '0' }, body: { error: { code: 'too_many_requests', message: 'too many open tasks (1000); let some end first' } } };
    api.script('POST /tasks', full, echo(200, { state: 'SUCCESS', result: 3 }));
    const run = await doozer(['add', '1', '2']);
    expect(run).toEqual({ code: 0, stdout: 'Result: 3\n', stderr: 'doozer: rate limited (too many open tasks (1000); let some end first; RateLimit-Remaining 41); retrying in 0 s\n' });
  });

  it('waits out a short one at login too, and a long one there is still exit 3', async () => {
    const busy = { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'too_many_requests', message: 'too many logins are being checked at once; try again in a second' } } };
    api.script('POST /auth/token', busy);
    expect(await doozer(['token'])).toEqual({
      code: 0,
      stdout: 'scripted.test.token\n',
      stderr: 'doozer: logins refused for now (too many logins are being checked at once; try again in a second); retrying in 1 s\n',
    });

    api.script('POST /auth/token', { ...busy, headers: { 'retry-after': '900' }, body: { error: { code: 'too_many_requests', message: 'too many failed logins; try again in 900 s' } } });
    expect(await doozer(['token'])).toEqual({
      code: 3,
      stdout: '',
      stderr: 'doozer: logins refused for now: too many failed logins; try again in 900 s. Check --username/--password meanwhile.\n',
    });
  });

  it('batch: a chunk refused still after the retry is an outage (exit 4), and the lines after it are not sent', async () => {
    const lines = Array.from({ length: 101 }, (_, index) => JSON.stringify({ name: 'add', args: [index, 1] }));
    api.script('POST /tasks/batch', tooMany(0), tooMany(30));
    const run = await doozer(['batch', '-', '--idempotency-key', 'nightly'], `${lines.join('\n')}\n`);
    expect(run.code).toBe(4);
    const printed = run.stdout.split('\n');
    expect(printed[0]).toBe('line   1  error too_many_requests: too many requests: at most 60 a minute');
    expect(printed[100]).toBe('line 101  error not_sent: not sent: the service refused too many requests (too many requests: at most 60 a minute)');
    expect(run.stderr).toContain('doozer: rate limited (RateLimit-Remaining 0); retrying in 0 s\n');
    expect(run.stderr).toContain('101 lines were not accepted for an outage (unavailable, too_many_requests, unreachable or not_sent)');
    // The retry went with the chunk's own key; the second chunk was not sent.
    expect(api.to('POST /tasks/batch').map((request) => request.headers['idempotency-key'])).toEqual(['nightly-1', 'nightly-1']);
  });
});
