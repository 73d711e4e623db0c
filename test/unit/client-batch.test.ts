import { describe, expect, it } from 'vitest';
import {
  type BatchLine,
  type BatchVerdict,
  type FailureKind,
  type LineError,
  type LineOutcome,
  type SendChunk,
  batchVerdict,
  checkIdempotencyKey,
  chunkKey,
  chunkRequests,
  errorKind,
  failureKind,
  formatOutcome,
  readBatchLines,
  runsAfter,
  submitLines,
  waitForOutcomes,
} from '../../client/src/batch.ts';
import { DoozerApiError, DoozerConnectionError, DoozerRateLimitError } from '../../client/src/errors.ts';
import { InputError } from '../../client/src/input.ts';
import type { BatchItemResult, TaskView } from '../../client/src/types.ts';
import { taskView } from '../support/scripted-api.ts';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');

const view = (id: string, overrides: Partial<TaskView> = {}): TaskView => taskView({ id, ...overrides });

/** Lines `first..first+count-1`, each a request `{"name":"add","args":[n]}`. */
function requestLines(count: number, first = 1): { line: number; json: string }[] {
  return Array.from({ length: count }, (_, index) => ({ line: first + index, json: `{"name":"add","args":[${first + index}]}` }));
}

/** A sender that accepts every request, recording each chunk; `refuse` turns a chunk into a thrown error. */
function recordingSender(refuse: (index: number) => unknown = () => undefined) {
  const chunks: { index: number; requests: string[] }[] = [];
  const send: SendChunk = async (requests, index) => {
    chunks.push({ index, requests });
    const error = refuse(index);
    if (error) throw error;
    return requests.map((request): BatchItemResult => {
      const n = (JSON.parse(request) as { args: number[] }).args[0]!;
      return n % 7 === 0
        ? { error: { code: 'invalid_request', message: `args[0] ${n} is refused` } }
        : { task: view(`task_${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`) };
    });
  };
  return { chunks, send };
}

describe('readBatchLines', () => {
  it('numbers lines from 1 as an editor does, skipping blank ones', () => {
    const text = '{"name":"add","args":[1,2]}\n\n   \n{"name":"mul","args":[3,4]}\r\n{"name":"sleep","args":{"ms":1},"delaySeconds":60}\n';
    expect(readBatchLines(text)).toEqual([
      { line: 1, json: '{"name":"add","args":[1,2]}' },
      { line: 4, json: '{"name":"mul","args":[3,4]}' },
      { line: 5, json: '{"name":"sleep","args":{"ms":1},"delaySeconds":60}' },
    ]);
  });

  it("keeps each line's own text, to be sent as it is, only the whitespace around it left out", () => {
    // Parsed and encoded again, 1e400 would go as null, 12345678901234567890 as 12345678901234567000,
    // and "\u0061dd" as "add": the API is to judge what the file says.
    const text = ' \t{ "name": "add", "args": [1e400] }  \n{"name":"add","args":[12345678901234567890, -0, 1.0]}\n{"name":"\\u0061dd","args":[1]}';
    expect(readBatchLines(text)).toEqual([
      { line: 1, json: '{ "name": "add", "args": [1e400] }' },
      { line: 2, json: '{"name":"add","args":[12345678901234567890, -0, 1.0]}' },
      { line: 3, json: '{"name":"\\u0061dd","args":[1]}' },
    ]);
  });

  it('does not send a line with a key given twice in one object, which the API would refuse with its whole chunk', () => {
    const refused = (key: string) => ({
      code: 'invalid_request',
      message: `the line has the key ${JSON.stringify(key)} more than once in one object; give each key once (not sent)`,
    });
    expect(readBatchLines('{"name":"add","args":[3],"name":"mul"}\n{"name":"add","args":[1]}\n{"name":"sleep","args":{"ms":1,"ms":2}}')).toEqual([
      { line: 1, error: refused('name') },
      { line: 2, json: '{"name":"add","args":[1]}' },
      { line: 3, error: refused('ms') },
    ]);
  });

  it('does not send a line larger than a batch request holds, saying how large it is', () => {
    // {"tasks":[…]} is 12 bytes: a line of 1 MiB - 12 bytes fits alone, one byte more does not.
    const fits = `"${'x'.repeat(1024 * 1024 - 12 - 2)}"`;
    const tooLarge = `"${'x'.repeat(1024 * 1024 - 12 - 1)}"`;
    expect(readBatchLines(`${fits}\n${tooLarge}\n{"name":"add","args":[1]}`)).toEqual([
      { line: 1, json: fits },
      {
        line: 2,
        error: {
          code: 'payload_too_large',
          message: 'this line is 1048565 bytes; a batch request holds at most 1 MiB (1048576 bytes), so it was not sent (a task is at most 64 KiB)',
        },
      },
      { line: 3, json: '{"name":"add","args":[1]}' },
    ]);
    expect(failureKind((readBatchLines(tooLarge)[0] as { error: LineError }).error)).toBe('refused');
  });

  it('does not send a line nested too deep for a batch body (the API takes 64 levels, the batch two of them)', () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(readBatchLines(nested(62))).toEqual([{ line: 1, json: nested(62) }]);
    expect(readBatchLines(nested(63))).toEqual([
      { line: 1, error: { code: 'invalid_request', message: 'the line nests arrays and objects more than 62 deep, too deep for a batch; flatten it (not sent)' } },
    ]);
  });

  it('keeps a line that is not JSON as its error, without repeating the line', () => {
    const [line] = readBatchLines('{"name":"add", args:[1]}');
    expect(line).toEqual({ line: 1, error: { code: 'invalid_json', message: expect.stringMatching(/^not JSON \(.+\); give one task request per line$/) } });
    expect(readBatchLines('not json')[0]).toEqual({
      line: 1,
      error: { code: 'invalid_json', message: "not JSON (Unexpected token 'o'); give one task request per line" },
    });
  });

  it('sends any JSON as it is, for the API to judge', () => {
    expect(readBatchLines('[1,2]\n"add"\nnull')).toEqual([
      { line: 1, json: '[1,2]' },
      { line: 2, json: '"add"' },
      { line: 3, json: 'null' },
    ]);
  });

  it('ignores a byte-order mark, and gives nothing for an empty text', () => {
    expect(readBatchLines('\uFEFF{"name":"add","args":[1]}')).toEqual([{ line: 1, json: '{"name":"add","args":[1]}' }]);
    expect(readBatchLines('')).toEqual([]);
    expect(readBatchLines('\n \n')).toEqual([]);
  });
});

describe('chunkRequests', () => {
  it('cuts at 100 requests a chunk, in order', () => {
    const chunks = chunkRequests(requestLines(250));
    expect(chunks.map((chunk) => chunk.length)).toEqual([100, 100, 50]);
    expect(chunks.flat().map((item) => item.line)).toEqual(requestLines(250).map((item) => item.line));
  });

  it('keeps each body within the byte limit, counting the envelope and commas exactly', () => {
    // Each request is 10 bytes ("xxxxxxxx" with its quotes); {"tasks":[]} is 12.
    const items = Array.from({ length: 5 }, (_, line) => ({ line, json: `"${'x'.repeat(8)}"` }));
    // 12 + 10 + 1 + 10 = 33: two fit in 33 bytes, not three.
    expect(chunkRequests(items, { maxBytes: 33 }).map((chunk) => chunk.length)).toEqual([2, 2, 1]);
    expect(chunkRequests(items, { maxBytes: 32 }).map((chunk) => chunk.length)).toEqual([1, 1, 1, 1, 1]);
    const body = `{"tasks":[${chunkRequests(items, { maxBytes: 33 })[0]!.map((item) => item.json).join(',')}]}`;
    expect(Buffer.byteLength(body)).toBe(33);
  });

  it('counts the bytes of the text as sent, spaces and all', () => {
    const items = [0, 1].map((line) => ({ line, json: '{ "name" : "add" }' }));
    // 12 + 18 + 1 + 18 = 49.
    expect(chunkRequests(items, { maxBytes: 48 })).toHaveLength(2);
    expect(chunkRequests(items, { maxBytes: 49 })).toHaveLength(1);
  });

  it('counts bytes, not characters', () => {
    const items = [0, 1].map((line) => ({ line, json: `"${'é'.repeat(10)}"` }));
    // Each is 22 bytes ("" around 10 two-byte characters): 12 + 22 + 1 + 22 = 57.
    expect(chunkRequests(items, { maxBytes: 56 })).toHaveLength(2);
    expect(chunkRequests(items, { maxBytes: 57 })).toHaveLength(1);
  });

  it('sends a request too large for any batch on its own', () => {
    const items = [{ line: 1, json: '"small"' }, { line: 2, json: `"${'x'.repeat(100)}"` }, { line: 3, json: '"small"' }];
    expect(chunkRequests(items, { maxBytes: 50 }).map((chunk) => chunk.map((item) => item.line))).toEqual([[1], [2], [3]]);
  });
});

describe('idempotency keys', () => {
  it("adds the chunk's number, from 1", () => {
    expect([0, 1, 11].map((index) => chunkKey('order-42', index))).toEqual(['order-42-1', 'order-42-2', 'order-42-12']);
  });

  it('takes printable ASCII that leaves room for the largest chunk number', () => {
    expect(checkIdempotencyKey('a'.repeat(253), 9)).toHaveLength(253);
    expect(checkIdempotencyKey('a'.repeat(252), 10)).toHaveLength(252);
    expect(() => checkIdempotencyKey('a'.repeat(253), 10)).toThrow('1 to 252 printable');
    expect(checkIdempotencyKey('a'.repeat(253), 1)).toHaveLength(253);
    expect(() => checkIdempotencyKey('a'.repeat(254), 1)).toThrow('--idempotency-key must be 1 to 253 printable ASCII characters');
    expect(() => checkIdempotencyKey('', 1)).toThrow(InputError);
    expect(() => checkIdempotencyKey('clé', 1)).toThrow(InputError);
    expect(() => checkIdempotencyKey('tab\there', 1)).toThrow(InputError);
  });
});

describe('submitLines', () => {
  it('gives one outcome per line, in order, sending chunks of 100 and reporting progress', async () => {
    const lines: BatchLine[] = [...requestLines(150), { line: 151, error: { code: 'invalid_json', message: 'not JSON' } }, ...requestLines(60, 152)];
    const { chunks, send } = recordingSender();
    const progress: number[] = [];
    const outcomes = await submitLines(lines, send, (settled) => progress.push(settled));
    expect(outcomes.map((outcome) => outcome.line)).toEqual(lines.map((line) => line.line));
    expect(chunks.map((chunk) => [chunk.index, chunk.requests.length])).toEqual([
      [0, 100],
      [1, 100],
      [2, 10],
    ]);
    expect(outcomes[150]).toEqual({ line: 151, error: { code: 'invalid_json', message: 'not JSON' } });
    expect(outcomes[6]).toEqual({ line: 7, error: { code: 'invalid_request', message: 'args[0] 7 is refused' } });
    expect(outcomes[0]).toMatchObject({ line: 1, task: { state: 'PENDING' } });
    expect(progress).toEqual([101, 201, 211]);
  });

  it('gives every line of a chunk the API refused whole its error, and sends the next chunk', async () => {
    const { chunks, send } = recordingSender((index) => (index === 0 ? new DoozerApiError(503, 'unavailable', 'the service is temporarily unavailable') : undefined));
    const outcomes = await submitLines(requestLines(101), send);
    expect(chunks).toHaveLength(2);
    expect(outcomes.slice(0, 100).every((outcome) => 'error' in outcome && outcome.error.code === 'unavailable')).toBe(true);
    expect(outcomes[0]).toEqual({ line: 1, error: { code: 'unavailable', message: 'the service is temporarily unavailable', status: 503 } });
    expect(outcomes[100]).toMatchObject({ line: 101, task: { state: 'PENDING' } });
  });

  it('stops sending when authentication fails (401), so the password is not tried again for every chunk', async () => {
    const refusal = new DoozerApiError(401, 'unauthorized', 'invalid username or password');
    const { chunks, send } = recordingSender((index) => (index === 1 ? refusal : undefined));
    const outcomes = await submitLines(requestLines(250), send);
    expect(chunks.map((chunk) => chunk.index)).toEqual([0, 1]);
    expect(outcomes[99]).toMatchObject({ task: { state: 'PENDING' } });
    expect(outcomes[100]).toEqual({ line: 101, error: { code: refusal.code, message: refusal.message, status: refusal.status } });
    expect(outcomes[249]).toEqual({ line: 250, error: { code: 'not_sent', message: `not sent: authentication failed (${refusal.message})` } });
  });

  it.each([
    ['the rate limit', new DoozerRateLimitError('too_many_requests', 'too many requests; try again in 30 s', { retryAfterSeconds: 30, retried: true })],
    ['logins refused for a while', new DoozerRateLimitError('too_many_requests', 'too many login attempts; try again in 900 s', { login: true })],
  ])('stops sending on a 429 (%s): the chunks after would only add to the requests refused', async (_why, refusal) => {
    const { chunks, send } = recordingSender((index) => (index === 1 ? refusal : undefined));
    const outcomes = await submitLines(requestLines(250), send);
    expect(chunks.map((chunk) => chunk.index)).toEqual([0, 1]);
    expect(outcomes[99]).toMatchObject({ task: { state: 'PENDING' } });
    expect(outcomes[100]).toEqual({ line: 101, error: { code: 'too_many_requests', message: refusal.message, status: 429 } });
    expect(outcomes[249]).toEqual({ line: 250, error: { code: 'not_sent', message: `not sent: the service refused too many requests (${refusal.message})` } });
    // Nothing is wrong with those lines: they are for sending again later.
    for (const outcome of [outcomes[100]!, outcomes[249]!]) expect('error' in outcome && failureKind(outcome.error)).toBe('outage');
  });

  it('stops sending when the service stops answering, saying which lines may have been accepted', async () => {
    const lost = new DoozerConnectionError('http://127.0.0.1:9', 'http://127.0.0.1:9 did not answer in time');
    const { chunks, send } = recordingSender((index) => (index === 1 ? lost : undefined));
    const outcomes = await submitLines(requestLines(250), send);
    expect(chunks.map((chunk) => chunk.index)).toEqual([0, 1]);
    expect(outcomes[100]).toEqual({
      line: 101,
      error: { code: 'unreachable', message: 'http://127.0.0.1:9 did not answer in time; these tasks may or may not have been accepted' },
    });
    expect(outcomes[249]).toEqual({
      line: 250,
      error: { code: 'not_sent', message: 'not sent: the service stopped answering (http://127.0.0.1:9 did not answer in time)' },
    });
    expect(outcomes[99]).toMatchObject({ task: { state: 'PENDING' } });
  });

  it('throws what is not an answer of the service (a bug)', async () => {
    const { send } = recordingSender(() => new TypeError('boom'));
    await expect(submitLines(requestLines(1), send)).rejects.toThrow('boom');
  });

  it('sends nothing when no line parsed', async () => {
    const { chunks, send } = recordingSender();
    const outcomes = await submitLines([{ line: 1, error: { code: 'invalid_json', message: 'not JSON' } }], send);
    expect(chunks).toEqual([]);
    expect(outcomes).toHaveLength(1);
  });
});

describe('waitForOutcomes (--wait)', () => {
  const ids = Array.from({ length: 6 }, (_, index) => `task_0000000${index}-0000-4000-8000-000000000000`);

  it('replaces each open task with the view it ended as, leaving ended tasks and errors alone', async () => {
    const outcomes: LineOutcome[] = [
      { line: 1, task: view(ids[0]!) },
      { line: 2, error: { code: 'invalid_json', message: 'not JSON' } },
      { line: 3, task: view(ids[1]!, { state: 'SUCCESS', result: 1 }) },
      { line: 4, task: view(ids[2]!, { state: 'SCHEDULED' }) },
    ];
    const asked: string[] = [];
    const progress: [number, number][] = [];
    const waited = await waitForOutcomes(
      outcomes,
      async (id) => {
        asked.push(id);
        // The scheduled one is still waiting when the wait gives up.
        return id === ids[2] ? view(id, { state: 'SCHEDULED' }) : view(id, { state: 'SUCCESS', result: 42 });
      },
      { onProgress: (ended, of) => progress.push([ended, of]) },
    );
    expect(asked.sort()).toEqual([ids[0], ids[2]]);
    expect(waited).toEqual([
      { line: 1, task: view(ids[0]!, { state: 'SUCCESS', result: 42 }) },
      outcomes[1],
      outcomes[2],
      { line: 4, task: view(ids[2]!, { state: 'SCHEDULED' }) },
    ]);
    expect(progress).toEqual([
      [1, 3],
      [2, 3],
    ]);
  });

  it('does not wait for a task set to run after the deadline, nor count it; one due before is waited for', async () => {
    const deadline = NOW + 60_000;
    const outcomes: LineOutcome[] = [
      { line: 1, task: view(ids[0]!) },
      { line: 2, task: view(ids[1]!, { state: 'SCHEDULED', runAt: '2026-12-01T12:20:00.000Z' }) },
      { line: 3, task: view(ids[2]!, { runAt: '2026-12-01T12:02:00.000Z' }) },
      { line: 4, task: view(ids[3]!, { runAt: '2026-12-01T12:00:30.000Z' }) },
    ];
    const asked: [string, TaskView][] = [];
    const progress: [number, number][] = [];
    const waited = await waitForOutcomes(
      outcomes,
      async (id, task) => {
        asked.push([id, task]);
        return view(id, { state: 'SUCCESS', result: 3, runAt: task.runAt });
      },
      { deadline, concurrency: 1, onProgress: (ended, of) => progress.push([ended, of]) },
    );
    // Each waited-for task is given as submitted, with its id.
    expect(asked).toEqual([
      [ids[0], (outcomes[0] as { task: TaskView }).task],
      [ids[3], (outcomes[3] as { task: TaskView }).task],
    ]);
    expect(waited[1]).toBe(outcomes[1]);
    expect(waited[2]).toBe(outcomes[2]);
    expect(waited[3]).toEqual({ line: 4, task: view(ids[3]!, { state: 'SUCCESS', result: 3, runAt: '2026-12-01T12:00:30.000Z' }) });
    expect(progress).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
  });

  it('waits for at most `concurrency` tasks at once', async () => {
    let running = 0;
    let most = 0;
    const outcomes = ids.map((id, index): LineOutcome => ({ line: index + 1, task: view(id) }));
    await waitForOutcomes(
      outcomes,
      async (id) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        return view(id, { state: 'SUCCESS' });
      },
      { concurrency: 2 },
    );
    expect(most).toBe(2);
  });
});

describe('runsAfter', () => {
  const deadline = NOW + 60_000;
  it.each<[Partial<TaskView>, boolean]>([
    [{ state: 'SCHEDULED', runAt: '2026-12-01T12:20:00.000Z' }, true],
    [{ state: 'PENDING', runAt: '2026-12-01T12:01:00.001Z' }, true],
    [{ state: 'PENDING', runAt: '2026-12-01T12:01:00.000Z' }, false],
    [{ state: 'SCHEDULED', runAt: '2026-12-01T12:00:59.000Z' }, false],
    [{ state: 'PENDING' }, false],
    [{ state: 'CANCELLED', runAt: '2026-12-01T12:20:00.000Z' }, false],
  ])('%j: %s', (overrides, expected) => {
    expect(runsAfter(view('task_x', overrides), deadline)).toBe(expected);
  });
});

describe('what a line that got no task calls for', () => {
  it.each<[LineError, FailureKind]>([
    [{ code: 'invalid_json', message: 'not JSON' }, 'refused'],
    [{ code: 'invalid_request', message: 'args[0] must be an integer' }, 'refused'],
    [{ code: 'unknown_task', message: 'unknown task "nope"' }, 'refused'],
    [{ code: 'invalid_response', message: 'no result for this line' }, 'refused'],
    [{ code: 'payload_too_large', message: 'over 1 MiB', status: 413 }, 'refused'],
    [{ code: 'idempotency_key_reused', message: 'another batch', status: 422 }, 'refused'],
    [{ code: 'unavailable', message: 'submit it again' }, 'outage'],
    [{ code: 'unavailable', message: 'temporarily unavailable', status: 503 }, 'outage'],
    [{ code: 'internal', message: 'internal error', status: 500 }, 'outage'],
    [{ code: 'http_502', message: 'bad gateway', status: 502 }, 'outage'],
    [{ code: 'request_in_progress', message: 'retry shortly', status: 409 }, 'outage'],
    [{ code: 'unreachable', message: 'did not answer in time; these tasks may or may not have been accepted' }, 'outage'],
    [{ code: 'not_sent', message: 'not sent: the service stopped answering' }, 'outage'],
    [{ code: 'unauthorized', message: 'invalid username or password', status: 401 }, 'auth'],
    [{ code: 'too_many_requests', message: 'too many requests; try again in 30 s', status: 429 }, 'outage'],
  ])('%j: %s', (error, kind) => {
    expect(failureKind(error)).toBe(kind);
  });

  it('classifies errors of the client the same way, and nothing else', () => {
    expect(errorKind(new DoozerConnectionError('http://127.0.0.1:9', 'nothing answers'))).toBe('outage');
    expect(errorKind(new DoozerApiError(503, 'unavailable', 'down'))).toBe('outage');
    expect(errorKind(new DoozerApiError(401, 'unauthorized', 'no'))).toBe('auth');
    expect(errorKind(new DoozerRateLimitError('too_many_requests', 'slow down', { retryAfterSeconds: 2, retried: true }))).toBe('outage');
    expect(errorKind(new DoozerApiError(404, 'task_not_found', 'gone'))).toBe('refused');
    expect(errorKind(new TypeError('boom'))).toBeUndefined();
  });
});

describe('batchVerdict (the exit code)', () => {
  const id = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';
  const accepted: LineOutcome = { line: 1, task: view(id) };
  const ended: LineOutcome = { line: 1, task: view(id, { state: 'SUCCESS', result: 3 }) };
  const failed: LineOutcome = { line: 1, task: view(id, { state: 'FAILURE', error: { code: 'timeout', message: 'too slow' } }) };
  const later: LineOutcome = { line: 1, task: view(id, { state: 'SCHEDULED', runAt: '2026-12-01T12:20:00.000Z' }) };
  const bad: LineOutcome = { line: 2, error: { code: 'invalid_request', message: 'args[0] must be an integer' } };
  const unavailable: LineOutcome = { line: 3, error: { code: 'unavailable', message: 'submit it again' } };
  const chunk503: LineOutcome = { line: 3, error: { code: 'unavailable', message: 'temporarily unavailable', status: 503 } };
  const unreachable: LineOutcome = { line: 3, error: { code: 'unreachable', message: 'did not answer' } };
  const notSent: LineOutcome = { line: 4, error: { code: 'not_sent', message: 'not sent' } };
  const unauthorized: LineOutcome = { line: 5, error: { code: 'unauthorized', message: 'invalid username or password', status: 401 } };
  const deadline = NOW + 60_000;

  it.each<[string, LineOutcome[], Parameters<typeof batchVerdict>[1], BatchVerdict]>([
    ['every line accepted', [accepted, ended, later], {}, 'done'],
    ['every task waited for succeeded; one runs after the deadline', [ended, later], { waited: true, deadline }, 'done'],
    ['a task waited for still open', [ended, accepted, later], { waited: true, deadline }, 'open'],
    ['open tasks without --wait', [accepted], {}, 'done'],
    ['a line refused for its own fault', [accepted, bad], {}, 'refused'],
    ['a task that failed', [failed, ended], { waited: true, deadline }, 'refused'],
    ['items refused unavailable', [accepted, unavailable], {}, 'outage'],
    ['a chunk refused 503', [chunk503, chunk503], {}, 'outage'],
    ['unreachable, then not sent', [accepted, unreachable, notSent], {}, 'outage'],
    ['an outage and a task still open', [accepted, unavailable], { waited: true, deadline }, 'outage'],
    ['the wait cut short by an outage', [accepted], { waited: true, deadline, stoppedBy: 'outage' }, 'outage'],
    ['an outage and a line refused for its own fault', [unavailable, bad, notSent], {}, 'refused'],
    ['a failed login, then not sent', [accepted, unauthorized, notSent], {}, 'auth'],
    ['a failed login and a line refused for its own fault', [bad, unauthorized, notSent], {}, 'auth'],
    ['the wait cut short by a failed login', [bad], { waited: true, deadline, stoppedBy: 'auth' }, 'auth'],
  ])('%s', (_case, outcomes, options, verdict) => {
    expect(batchVerdict(outcomes, options)).toBe(verdict);
  });
});

describe('formatOutcome', () => {
  const id = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';

  it.each<[LineOutcome, string]>([
    [{ line: 3, task: view(id) }, `line  3  ${id}  PENDING`],
    [{ line: 12, task: view(id, { state: 'SCHEDULED', runAt: '2026-12-01T12:18:00.000Z' }) }, `line 12  ${id}  SCHEDULED  runs in 18m`],
    [{ line: 4, task: view(id, { state: 'SUCCESS', result: 3, runAt: '2026-12-01T12:18:00.000Z' }) }, `line  4  ${id}  SUCCESS  3`],
    [{ line: 4, task: view(id, { state: 'FAILURE', error: { code: 'timeout', message: 'too slow' } }) }, `line  4  ${id}  FAILURE  timeout: too slow`],
    [{ line: 4, error: { code: 'invalid_request', message: 'args[0] must be an integer' } }, 'line  4  error invalid_request: args[0] must be an integer'],
    [{ line: 5, error: { code: 'invalid_json', message: 'not\nJSON' } }, 'line  5  error invalid_json: not JSON'],
  ])('prints %j as %j', (outcome, expected) => {
    expect(formatOutcome(outcome, { now: NOW, numberWidth: 2 })).toBe(expected);
  });
});
