import { toJsonInteger } from '../../lib/tasks/exact-integer.ts';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lib/http/json-limits.ts';
import { type TestApp, createTestApp } from '../support/app-harness.ts';
import { USER, errorShapeProblems, expectStillServing } from './checks.ts';

/**
 * Generated malformed requests against the real app in-process: every one must get a 4xx in the one
 * error shape, never a 5xx, and must store and queue nothing. A second property sends odd but valid
 * requests, which must get the exact answer. The closing line (`fuzz: N requests (M malformed), 0
 * 5xx`) is the figure to quote. A failure prints fast-check's seed; DOOZER_FUZZ_SEED=<seed> replays it.
 */

const SEED = process.env.DOOZER_FUZZ_SEED ? Number(process.env.DOOZER_FUZZ_SEED) : undefined;
const RUNS = { tasks: 700, token: 300, lookup: 300, valid: 200 };

interface FuzzRequest {
  /** What is wrong with it, for failure messages. */
  readonly what: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes when the request must not get a Content-Type from the Request constructor. */
  readonly body?: string | Uint8Array;
  /** Sent with alice's valid bearer token (the routes under /tasks). */
  readonly authenticated: boolean;
}

// Bodies are built as JSON text, so they can hold what JSON.stringify never writes: -0, 1e400,
// duplicate keys, escaped lone surrogates, truncation.

const json = (value: unknown) => JSON.stringify(value);
const LONE_SURROGATE = '\\ud800';

/** A JSON value as text, of any type, including ones nothing in the API accepts. */
const anyJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map(json),
  fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }).map(json),
  fc.constantFrom('-0', '1e400', '-1e400', '1e-400', '123456789012345678901234567890', '0.1e1', '"\\ud800"', '{}', '[]'),
);

/** One task argument, as text, that the API must refuse. */
const badArgText: fc.Arbitrary<string> = fc.oneof(
  fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }).map(json),
  fc.constantFrom(
    ...['1.5', '-0.5', '1e400', '-1e400', '1e-7', '9007199254740992', '-9007199254740993', '123456789012345678901234567890'],
    ...['null', 'true', 'false', '{}', '[]', '[1]', '{"value":1}'],
    ...['"NaN"', '"Infinity"', '"-Infinity"', '"1e3"', '"1.0"', '"0x10"', '"0b1"', '"+1"', '" 1"', '"1 "', '"1_000"'],
    ...['"1n"', '""', '"-"', '"--1"', '"١٢٣"', '"１２３"', '"1\\u0000"', '"\\ud800"', '"12\\u00003"'],
  ),
  fc.integer({ min: 1001, max: 5000 }).map((digits) => json('7'.repeat(digits))),
  fc
    .string({ unit: 'binary', maxLength: 20 })
    .filter((s) => !/^-?\d+$/.test(s))
    .map(json),
  fc.integer({ min: 1, max: 2000 }).map((depth) => `${'['.repeat(depth)}1${']'.repeat(depth)}`),
);

/** A task argument, as text, that the API accepts, with the integer it means. */
const goodArg: fc.Arbitrary<readonly [string, bigint]> = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => [json(n), BigInt(n)] as const),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map((n) => [json(n.toString()), n] as const),
  fc.constantFrom<readonly [string, bigint]>(
    ['-0', 0n],
    ['"-0"', 0n],
    ['-0.0', 0n],
    ['"007"', 7n],
    ['1E2', 100n],
    ['1.0', 1n],
    ['0.1e1', 1n],
    ['9007199254740991', 9007199254740991n],
    ['-9007199254740991', -9007199254740991n],
    [json('9'.repeat(1000)), 10n ** 1000n - 1n],
    [json(`-${'9'.repeat(1000)}`), -(10n ** 1000n) + 1n],
  ),
);

const goodArgs = fc.array(goodArg, { minLength: 1, maxLength: 8 });
const argsText = (args: readonly (readonly [string, bigint])[]) => `[${args.map(([text]) => text).join(',')}]`;

/** A JSON object as text from [key text, value text] members, with any spacing. */
const objectText = (members: readonly (readonly [string, string])[], space = '') =>
  `{${space}${members.map(([key, value]) => `${key}${space}:${space}${value}`).join(`,${space}`)}${space}}`;

/** Keys that must never reach a prototype, and fields the API does not know. */
const pollutionKey = fc.constantFrom(
  ...['"__proto__"', '"constructor"', '"prototype"', '"__defineGetter__"', '"toString"', '"hasOwnProperty"', '"valueOf"'],
);
const pollutionValue = fc.constantFrom('{"polluted":true}', '{"prototype":{"polluted":true}}', 'null', '1', '[]', '"x"');
const unknownKey = fc.oneof(
  pollutionKey,
  fc.constantFrom('"priority"', '"Name"', '"ARGS"', '"name "', '"args\\u0000"', '"nam\\u0065x"', '""', `"name${LONE_SURROGATE}"`),
  fc
    .string({ unit: 'binary', maxLength: 12 })
    .filter((key) => key !== 'name' && key !== 'args')
    .map(json),
);

function parsesToObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** A body that is not JSON at all, or JSON cut short. */
const notJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ...['', ' ', '\n', '{', '}', '[', 'null null', '{"name":', '{"name":"add","args":[1,', '{"name":"add"}{"args":[1]}'],
    ...["{'name':'add','args':[1]}", '{name:"add",args:[1]}', '{"name":"add","args":[1],}', '{"name":"add","args":[01]}'],
    ...['{"name":"add","args":[NaN]}', '{"name":"add","args":[Infinity]}', '{"name":"add","args":[1]} trailing'],
    ...['{"name":"add\\x41","args":[1]}', '{"name":"add","args":[1]}\u0000', '/*c*/{"name":"add","args":[1]}'],
  ),
  // A proper prefix of an object is never valid JSON.
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.nat()).map(([value, cut]) => {
    const text = json({ name: 'add', args: [1], value });
    return text.slice(0, cut % text.length);
  }),
  fc.string({ unit: 'binary', maxLength: 200 }).filter((text) => !parsesToObject(text)),
);

/** Bodies over the 64 KiB limit. */
const oversized: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1, max: 200_000 }).map((extra) => `${' '.repeat(MAX_BODY_BYTES + extra)}{"name":"add","args":[1]}`),
  fc
    .integer({ min: MAX_BODY_BYTES, max: 3 * MAX_BODY_BYTES })
    .map((digits) => json({ name: 'add', args: ['1'.repeat(digits)] })),
  fc.constant(json({ name: 'add', args: Array.from({ length: 40_000 }, () => 1) })),
  // Under the limit in characters, over it in UTF-8 bytes.
  fc.constant(json({ name: 'add', args: [1], pad: '\u20ac'.repeat(MAX_BODY_BYTES / 2) })),
);

/** Nesting as deep as the body limit allows, and deeper. */
const deep: fc.Arbitrary<string> = fc
  .integer({ min: 100, max: 20_000 })
  .chain((depth) =>
    fc.constantFrom(
      `${'['.repeat(depth)}${']'.repeat(depth)}`,
      `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      `{"name":"add","args":[${'['.repeat(depth)}1${']'.repeat(depth)}]}`,
      `{"name":"add","args":[1],"x":${'{"a":'.repeat(depth)}"b:c"${'}'.repeat(depth)}}`,
      `{"name":"add","args":[1],"x":${'{"a":'.repeat(depth)}{"k":1,"k":2}${'}'.repeat(depth)}}`,
    ),
  );

type Body = { readonly what: string; readonly body: string };

// POST /tasks -----------------------------------------------------------------------------------

const taskName = fc.constantFrom('"add"', '"mul"');
const badName = fc.oneof(
  fc.constantFrom(
    ...['"Add"', '"ADD"', '" add"', '"add "', '"ａｄｄ"', '"add\\u0000"', `"add${LONE_SURROGATE}"`, '"pow"', '""'],
    ...['"__proto__"', '"constructor"', '"toString"'],
  ),
  fc
    .string({ unit: 'binary', maxLength: 10 })
    .filter((name) => name !== 'add' && name !== 'mul')
    .map(json),
  fc.constantFrom(1, 0, -1, 1.5, true, false, null, ['add'], { name: 'add' }).map(json),
);
const badArgsValue = fc.oneof(
  fc.constantFrom(null, {}, '1,2', 1, { 0: 1, length: 1 }, []).map(json),
  fc.integer({ min: 1001, max: 20_000 }).map((count) => `[${Array.from({ length: count }, () => '1').join(',')}]`),
  fc.tuple(goodArgs, badArgText, fc.nat()).map(([args, bad, at]) => {
    const texts = args.map(([text]) => text);
    texts.splice(at % (texts.length + 1), 0, bad);
    return `[${texts.join(',')}]`;
  }),
);
const taskBody = (name: string, args: string) => objectText([['"name"', name], ['"args"', args]]);

/** A JSON body for POST /tasks that the API must refuse. */
const badTaskBody: fc.Arbitrary<Body> = fc.oneof(
  fc.tuple(badName, goodArgs).map(([name, args]) => ({ what: 'a bad name', body: taskBody(name, argsText(args)) })),
  fc.tuple(taskName, badArgsValue).map(([name, args]) => ({ what: 'bad args', body: taskBody(name, args) })),
  fc.integer({ min: 11, max: 30 }).map((count) => ({
    what: 'a product over 10,000 digits',
    body: json({ name: 'mul', args: Array.from({ length: count }, () => '9'.repeat(1000)) }),
  })),
  fc.tuple(taskName, goodArgs, unknownKey, anyJsonText, fc.boolean()).map(([name, args, key, value, first]) => {
    const members: [string, string][] = [
      ['"name"', name],
      ['"args"', argsText(args)],
    ];
    if (first) members.unshift([key, value]);
    else members.push([key, value]);
    return { what: `an extra field ${key}`, body: objectText(members) };
  }),
  fc.tuple(taskName, goodArgs, pollutionKey, pollutionValue).map(([name, args, key, value]) => ({
    what: `a pollution key ${key}`,
    body: objectText([
      [key, value],
      ['"name"', name],
      ['"args"', argsText(args)],
    ]),
  })),
  fc
    .tuple(taskName, goodArgs, fc.constantFrom('name', 'args', 'nested'), fc.constantFrom('', ' ', '\n\t'))
    .map(([name, args, which, space]) => {
      const members: [string, string][] = [
        ['"name"', name],
        ['"args"', argsText(args)],
      ];
      if (which === 'name') members.push(['"n\\u0061me"', '"mul"']);
      if (which === 'args') members.unshift(['"args"', '[1]']);
      if (which === 'nested') members[1] = ['"args"', `[{"x":1,${space}"x":2}]`];
      return { what: `a duplicate key (${which})`, body: objectText(members, space) };
    }),
  fc
    .oneof(
      goodArgs.map((args) => objectText([['"args"', argsText(args)]])),
      taskName.map((name) => objectText([['"name"', name]])),
      fc.constant('{}'),
    )
    .map((body) => ({ what: 'a missing field', body })),
  anyJsonText.filter((text) => !parsesToObject(text)).map((body) => ({ what: 'a body that is not an object', body })),
  notJson.map((body) => ({ what: 'a body that is not JSON', body })),
  oversized.map((body) => ({ what: 'an oversized body', body })),
  deep.map((body) => ({ what: 'deep nesting', body })),
);

const goodTaskBody = fc.tuple(taskName, goodArgs).map(([name, args]) => taskBody(name, argsText(args)));

const jsonType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/vnd.doozer+json',
);
/** Content types that are not JSON; undefined sends none. */
const notJsonType = fc.oneof(
  fc.constantFrom(
    ...[undefined, 'text/plain', 'text/json', 'application/jsonx', 'application/json5', 'application/xml', 'json'],
    ...['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/', '*/*'],
    ...['application/json,text/plain', 'application/ json'],
  ),
  fc.string({ maxLength: 30 }).filter((type) => !/json/i.test(type)),
);

function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80'; // encodeURIComponent refuses lone surrogates: send one as UTF-8 bytes
  }
}

/** `wait` query values that are not 0 to 5 seconds. */
const badWait = fc
  .oneof(
    fc.constantFrom(
      ...['abc', '-1', '5.5', '5.001', '6', 'NaN', 'Infinity', '-0', '1e3', '1e0', '', '0x1', ' 1', '1 ', '+1'],
      ...['.5', '5.', '1,5', '٣', '99999999999999999999999', '\u0000', '%', '1&wait=2'],
    ),
    fc.string({ unit: 'binary', maxLength: 12 }).filter((value) => !/^\d+(\.\d+)?$/.test(value) || Number(value) > 5),
  )
  .map((value) => `wait=${safeEncode(value)}`);

/** Headers that must not change the outcome; Prefer is a hint, so a bad one is ignored. */
const noise = fc.record(
  {
    prefer: fc.oneof(
      fc.constantFrom(
        ...['wait=abc', 'wait=-1', 'wait=1e9', 'wait=', 'wait', '=', ',,,', ';;;', 'wait="x"', 'wait=5.5'],
        ...['respond-sync', 'return=minimal', 'handling=strict'],
      ),
      fc.string({ maxLength: 40 }),
    ),
    accept: fc.constantFrom('*/*', 'text/html', 'application/xml', 'garbage'),
    'x-forwarded-for': fc.constantFrom('127.0.0.1', 'not-an-ip', '::1, 10.0.0.1'),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', 'nonsense'),
  },
  { requiredKeys: [] },
);

const bytes = (text: string) => new TextEncoder().encode(text);
const withType = (headers: Record<string, string>, type: string | undefined) =>
  type === undefined ? headers : { ...headers, 'content-type': type };

const malformedTaskRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(badTaskBody, jsonType, noise)
      .map(([{ what, body }, type, headers]) => post('/tasks', what, body, withType(headers, type))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(notJsonType, goodTaskBody, noise)
      .map(([type, body, headers]) => post('/tasks', `the content type ${type}`, bytes(body), withType(headers, type))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(badWait, goodTaskBody, noise)
      .map(([query, body, headers]) =>
        post(`/tasks?${query}`, `the query ${query}`, body, withType(headers, 'application/json')),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.constantFrom('', ' ', 'a'.repeat(256), 'key\u0000', 'ключ', 'tab\there', '\u007f'),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }).filter((key) => !/^[\x20-\x7e]{1,255}$/.test(key)),
        ),
        goodTaskBody,
      )
      .filter(([key]) => {
        // Headers cannot carry every string, and trim the ones they carry ("\tk" arrives as "k"):
        // keep what a client can send and what still arrives malformed.
        try {
          const sent = new Headers({ 'idempotency-key': key }).get('idempotency-key') ?? '';
          return !/^[\x20-\x7e]{1,255}$/.test(sent);
        } catch {
          return false;
        }
      })
      .map(([key, body]) =>
        post('/tasks', `the Idempotency-Key ${JSON.stringify(key)}`, body, { 'content-type': 'application/json', 'idempotency-key': key }),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom([0xff, 0xfe, 0x7b, 0x7d], [0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d], [0xef, 0xbb, 0xbf], [])
      .map((octets) =>
        post('/tasks', 'bytes that are not UTF-8 JSON', new Uint8Array(octets), { 'content-type': 'application/json' }),
      ),
  },
);

// POST /auth/token ------------------------------------------------------------------------------

const goodUsername = json(USER.username);
const goodPassword = json(USER.password);
const badCredential = fc.oneof(
  fc.constantFrom(1, true, null, [], ['alice'], {}).map(json),
  fc.constantFrom('""', '"\\u0000"', `"${LONE_SURROGATE}"`, '"alice\\u0000"', '"ALICE"', '" alice"', '"ａｌｉｃｅ"'),
  fc.string({ unit: 'binary', maxLength: 40 }).map(json),
  fc.integer({ min: 1000, max: 60_000 }).map((length) => json('a'.repeat(length))),
);
const credential = fc.oneof(badCredential, fc.constant(goodUsername), fc.constant(goodPassword));
const credentials = (...members: (readonly [string, string])[]) =>
  objectText([['"username"', goodUsername], ['"password"', goodPassword], ...members]);

const badTokenBody: fc.Arbitrary<Body> = fc.oneof(
  fc
    .tuple(credential, credential)
    .filter(([username, password]) => !(username === goodUsername && password === goodPassword))
    .map(([username, password]) => ({
      what: 'bad credentials',
      body: objectText([
        ['"username"', username],
        ['"password"', password],
      ]),
    })),
  fc
    .tuple(unknownKey, anyJsonText)
    .map(([key, value]) => ({ what: `an extra field ${key}`, body: credentials([key, value]) })),
  fc.tuple(pollutionKey, pollutionValue).map(([key, value]) => ({
    what: `a pollution key ${key}`,
    body: objectText([
      [key, value],
      ['"username"', goodUsername],
      ['"password"', goodPassword],
    ]),
  })),
  fc.constantFrom(
    { what: 'a duplicate username', body: `{"username":"mallory",${credentials().slice(1)}` },
    { what: 'a duplicate password', body: credentials(['"p\\u0061ssword"', '"guess"']) },
  ),
  fc
    .constantFrom('{}', objectText([['"username"', goodUsername]]), objectText([['"password"', goodPassword]]))
    .map((body) => ({ what: 'a missing field', body })),
  anyJsonText.filter((text) => !parsesToObject(text)).map((body) => ({ what: 'a body that is not an object', body })),
  notJson.map((body) => ({ what: 'a body that is not JSON', body })),
  oversized.map((body) => ({ what: 'an oversized body', body })),
  deep.map((body) => ({ what: 'deep nesting', body })),
);

const malformedTokenRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(badTokenBody, jsonType, noise)
      .map(([{ what, body }, type, headers]) => post('/auth/token', what, body, withType(headers, type), false)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(notJsonType, noise)
      .map(([type, headers]) =>
        post('/auth/token', `the content type ${type}`, bytes(credentials()), withType(headers, type), false),
      ),
  },
);

// GET /tasks/:id --------------------------------------------------------------------------------

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
/** Well-formed ids of tasks that do not exist. */
const unknownId = fc
  .tuple(hex(8), hex(4), hex(3), fc.constantFrom('8', '9', 'a', 'b'), hex(3), hex(12))
  .map(([a, b, c, variant, d, e]) => `task_${a}-${b}-4${c}-${variant}${d}-${e}`);
const badId: fc.Arbitrary<string> = fc.oneof(
  unknownId.map((id) => id.toUpperCase()),
  unknownId.map((id) => id.replace('-4', '-1')),
  unknownId.map((id) => `${id}x`),
  unknownId.map((id) => id.slice('task_'.length)),
  unknownId.map((id) => `${id}%20`),
  unknownId.map((id) => `${id}%00`),
  unknownId.map((id) => id.replace('task_', 'task%5F')),
  fc.constantFrom(
    ...['task_', 'task', '123', '..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%2F', '%', '%zz', '%E0%A4%A', '%ED%A0%80'],
    ...['%C0%AF', '%FF%FE', '__proto__', 'constructor', 'null', 'undefined', '%F0%9F%98%80', '%EF%BC%94'],
  ),
  fc.integer({ min: 100, max: 20_000 }).map((length) => 'a'.repeat(length)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map(safeEncode),
);

const malformedLookup: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(badId, noise).map(([id, headers]) => get(`/tasks/${id}`, `the id ${id.slice(0, 60)}`, headers)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(unknownId, noise).map(([id, headers]) => get(`/tasks/${id}`, 'an unknown id', headers)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(unknownId, badWait, noise)
      .map(([id, query, headers]) => get(`/tasks/${id}?${query}`, `the query ${query}`, headers)),
  },
);

function post(
  path: string,
  what: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
  authenticated = true,
): FuzzRequest {
  return { what, method: 'POST', path, body, headers, authenticated };
}

function get(path: string, what: string, headers: Record<string, string>): FuzzRequest {
  return { what, method: 'GET', path, headers, authenticated: true };
}

// The run ---------------------------------------------------------------------------------------

let harness: TestApp;
let authorization: string;
const counts = { requests: 0, malformed: 0, serverErrors: 0 };
/** Answers by status, for the summary line. */
const statuses = new Map<number, number>();
const prototypeKeysBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  harness = createTestApp();
  authorization = await harness.bearer();
});

afterAll(() => {
  const byStatus = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`);
  console.log(
    `fuzz: ${counts.requests} requests (${counts.malformed} malformed), ${counts.serverErrors} 5xx (${byStatus.join(', ')})`,
  );
});

async function send(request: FuzzRequest): Promise<Response> {
  const headers = new Headers(request.headers);
  if (request.authenticated) headers.set('authorization', authorization);
  counts.requests += 1;
  const response = await harness.app.request(request.path, {
    method: request.method,
    headers,
    body: request.body ?? null,
  });
  if (response.status >= 500) counts.serverErrors += 1;
  statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  return response;
}

/** Sends a request that must be refused: a 4xx in the error shape, and nothing stored or queued. */
async function expectRefused(request: FuzzRequest): Promise<void> {
  const stored = harness.store.tasks.size;
  const queued = harness.queue.sent.length;
  counts.malformed += 1;
  const response = await send(request);
  const outcome = { what: request.what, status: response.status, problems: await errorShapeProblems(response) };
  expect(outcome).toEqual({ what: request.what, status: expect.any(Number), problems: [] });
  expect(response.status, request.what).toBeGreaterThanOrEqual(400);
  expect(response.status, request.what).toBeLessThan(500);
  expect(harness.store.tasks.size, request.what).toBe(stored);
  expect(harness.queue.sent.length, request.what).toBe(queued);
}

const options = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });

describe('fuzzing the API with malformed requests', () => {
  it(`refuses ${RUNS.tasks} malformed POST /tasks requests with a 4xx in the error shape`, async () => {
    await fc.assert(fc.asyncProperty(malformedTaskRequest, expectRefused), options(RUNS.tasks));
  });

  it(`refuses ${RUNS.token} malformed POST /auth/token requests with a 4xx in the error shape`, async () => {
    await fc.assert(fc.asyncProperty(malformedTokenRequest, expectRefused), options(RUNS.token));
  });

  it(`refuses ${RUNS.lookup} malformed GET /tasks/:id requests with a 4xx in the error shape`, async () => {
    await fc.assert(fc.asyncProperty(malformedLookup, expectRefused), options(RUNS.lookup));
  });

  it(`answers ${RUNS.valid} odd but valid task requests (-0, 1E2, "007", 1,000 digits, noisy headers) exactly`, async () => {
    const spacing = fc.constantFrom('', ' ', '\n\t');
    const oddButValid = fc.tuple(fc.constantFrom('add', 'mul'), goodArgs, jsonType, noise, spacing);
    await fc.assert(
      fc.asyncProperty(oddButValid, async ([name, args, type, headers, space]) => {
        const body = objectText(
          [
            ['"name"', json(name)],
            ['"args"', argsText(args)],
          ],
          space,
        );
        const response = await send(post('/tasks', 'a valid request', body, withType(headers, type)));
        // The Prefer noise may ask not to wait: then the answer is 202, and the task ends anyway.
        expect([200, 202]).toContain(response.status);
        const { id } = (await response.json()) as { id: string };
        const values = args.map(([, value]) => value);
        const expected = name === 'add' ? values.reduce((a, b) => a + b, 0n) : values.reduce((a, b) => a * b, 1n);
        if (response.status === 200) {
          expect(harness.store.tasks.get(id)).toMatchObject({ state: 'SUCCESS', result: toJsonInteger(expected) });
        }
      }),
      options(RUNS.valid),
    );
  });

  it('left no property on Object.prototype', () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeysBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('saw no 5xx in the whole run, and tried at least 500 malformed requests', () => {
    expect(counts.serverErrors).toBe(0);
    expect(counts.malformed).toBeGreaterThanOrEqual(500);
  });

  it('still answers a valid login, submission and lookup correctly afterwards', async () => {
    await expectStillServing(harness);
  });
});
