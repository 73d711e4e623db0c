import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../lib/config.ts';
import { DEFAULT_STATUS, type ErrorCode } from '../../lib/errors.ts';
import { buildOpenApiDocument, openApiJson } from '../../lib/http/openapi/document.ts';
import { MAX_BODY_BYTES } from '../../lib/http/json-limits.ts';
import { ERROR_CODES } from '../../lib/http/response-schemas.ts';
import { DEFAULT_USER_LIMITS } from '../../lib/limits/user-limits.ts';
import { idempotencyClaimId } from '../../lib/tasks/idempotency.ts';
import { taskInputDigest } from '../../lib/tasks/task.ts';
import { TASK_STATES, type Task, toTaskView, webhookIdOf, webhookPayloadOf } from '../../lib/tasks/task.ts';
import { DEVELOPMENT_WEBHOOK_SECRET, signWebhook } from '../../lib/webhooks/signing.ts';
import { TEST_PASSWORDS, createTestApp } from '../support/app-harness.ts';
import { testPasswordHash } from '../support/test-users.ts';
import { catalog } from '../support/catalog.ts';

/* The API document against the app that serves it: valid OpenAPI 3.1, the same routes, and the same
 * idea of a valid request (requests are built from the document's schemas and examples, and every
 * answer, status and header is checked against what the document says of it). */

type Json = Record<string, any>;

const doc = buildOpenApiDocument(catalog) as Json;
const DOC_ID = 'https://doozer.invalid/openapi.json';

/** Every component schema in one ajv (JSON Schema 2020-12, strict), refs pointing into the document. */
const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
ajv.addSchema({ $id: DOC_ID, $defs: JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/')) });
const validators = new Map<string, ValidateFunction>();
/** A validator for a schema as the document writes it (a `$ref` to a component, or inline). */
function validatorFor(schema: Json): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(key.replaceAll('"#/components/schemas/', `"${DOC_ID}#/$defs/`)));
    validators.set(key, validate);
  }
  return validate;
}

/** Follows a `#/components/...` reference of the document. */
function resolve(value: Json): Json {
  if (typeof value.$ref !== 'string') return value;
  return value.$ref
    .slice(2)
    .split('/')
    .reduce((node: Json, part: string) => node[part], doc);
}

const parameterSchema = (name: string) => validatorFor(doc.components.parameters[name].schema);
const requestSchema = (path: string, method: string) => validatorFor(doc.paths[path][method].requestBody.content['application/json'].schema);

const USER = { username: 'doozer', password: TEST_PASSWORDS.doozer };
/** A well-formed task id that no test creates: the one of the document's 404 example. */
const NO_SUCH_TASK = 'task_5f0c2b7e-8d14-4a3b-b6c9-2e7f1a0d4c58';
/**
 * The real app over in-memory adapters (test/support/app-harness.ts), its caller USER; every queued
 * task runs at once unless `worker` is false.
 */
function harness({ worker = true } = {}) {
  const h = createTestApp({ worker });
  return { ...h, bearer: () => h.bearer(USER.username) };
}

/**
 * The app with the per-user features on (limits, open-task slots, webhooks), as lib/dependencies.ts
 * wires it; nothing consumes the queue, so tasks stay open until cancelled.
 */
function limitedHarness({ burst, openTasks }: { burst: number; openTasks: number }) {
  const h = createTestApp({
    worker: false,
    profiles: {
      users: [{ username: USER.username, passwordHash: 'unused', webhookSecret: DEVELOPMENT_WEBHOOK_SECRET }],
      defaultLimits: { requestsPerSecond: 0.001, burst, openTasks },
    },
    callbackPolicy: { allowLoopback: false },
  });
  return { app: h.app, bearer: () => h.bearer(USER.username) };
}

const RATE_LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'];

/** Known response headers that the document must declare wherever the app sends them. */
const DOCUMENTED_HEADERS = ['location', 'retry-after', 'preference-applied', 'idempotent-replayed', 'www-authenticate', ...RATE_LIMIT_HEADERS];

/**
 * Checks an answer against the document: its status is documented for the operation, its body
 * matches the documented schema, and every header of DOCUMENTED_HEADERS it carries is documented.
 * Returns the parsed body.
 */
async function expectDocumented(path: string, method: string, response: Response): Promise<unknown> {
  const operation = doc.paths[path]?.[method];
  expect(operation, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
  const documented = operation.responses[String(response.status)];
  expect(documented, `${method.toUpperCase()} ${path} documents ${response.status}`).toBeDefined();
  const answer = resolve(documented);
  const declared = Object.keys(answer.headers ?? {}).map((name) => name.toLowerCase());
  for (const name of DOCUMENTED_HEADERS) {
    if (response.headers.has(name)) expect(declared, `${response.status} declares ${name}`).toContain(name);
  }
  const [type, content] = Object.entries(answer.content as Json)[0] as [string, Json];
  expect(response.headers.get('content-type') ?? '').toContain(type);
  if (type !== 'application/json') return response.text();
  const body: unknown = await response.json();
  const validate = validatorFor(content.schema);
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
  return body;
}

const jsonPost = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('has schemas that are valid JSON Schema 2020-12 and references that all resolve', () => {
    for (const name of Object.keys(doc.components.schemas)) expect(() => validatorFor({ $ref: `#/components/schemas/${name}` })).not.toThrow();
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map(([, target]) => target as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const target of refs) expect(resolve({ $ref: target }), target).toBeDefined();
  });

  it('names the API, its version, a relative server and a bearer JWT scheme', () => {
    expect(doc.info).toMatchObject({ title: 'doozer', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(doc.servers).toEqual([{ url: '/' }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  });

  it('lists every error code of lib/errors.ts and every task state', () => {
    const error = doc.components.schemas.ErrorResponse.properties.error.properties.code;
    expect(error.enum).toEqual(ERROR_CODES);
    expect(new Set(ERROR_CODES).size).toBe(14);
    const state = doc.components.schemas.TaskView.properties.state;
    expect(state.enum).toEqual([...TASK_STATES]);
    for (const name of TASK_STATES) expect(state.description).toContain(name);
  });

  it('asks for a token on the task routes only', () => {
    for (const [path, methods] of Object.entries(doc.paths as Json)) {
      for (const [method, operation] of Object.entries(methods as Json)) {
        const secured = path.startsWith('/tasks');
        expect(operation.security, `${method} ${path}`).toEqual(secured ? [{ bearerAuth: [] }] : []);
        if (secured) expect(operation.responses['401'], `${method} ${path}`).toBeDefined();
      }
    }
  });
});

/** The pages the web function serves (lib/web/web-app.ts), which the document lists beside the API's routes. */
const WEB_PAGES = ['GET /', 'GET /docs'];

describe('the document and the routes the app serves', () => {
  it('has exactly the paths and methods of the app, both ways, and the web pages', () => {
    const { app } = harness();
    const served = new Set(
      app.routes
        .filter((route) => route.method !== 'ALL') // app.use middleware, not a route
        .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(doc.paths as Json).flatMap(([path, methods]) =>
        Object.keys(methods as Json).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    expect([...documented].filter((route) => !WEB_PAGES.includes(route)).sort()).toEqual([...served].sort());
    for (const page of WEB_PAGES) {
      const [method, path] = page.split(' ') as [string, string];
      const operation = doc.paths[path][method.toLowerCase()];
      expect(operation, page).toMatchObject({ tags: ['meta'], security: [] });
      expect(Object.keys(operation.responses['200'].content), page).toEqual(['text/html']);
    }
    expect(doc.paths['/'].get.operationId).toBe('getWebPage');
    expect(doc.paths['/docs'].get.description).toContain('/openapi.json');
  });
});

describe('GET /openapi.json', () => {
  it('serves the document as JSON without a token, the same bytes each time', async () => {
    const { app } = harness();
    const first = await app.request('/openapi.json');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await first.text();
    expect(JSON.parse(text)).toEqual(doc);
    expect(await (await app.request('/openapi.json')).text()).toBe(text);
    expect(openApiJson(catalog)).toBe(openApiJson(catalog));
  });
});

/** Every operation of the document's paths (not its webhooks), by name. */
const pathOperations = (): { name: string; operation: Json }[] =>
  Object.entries(doc.paths as Json).flatMap(([path, methods]) =>
    Object.entries(methods as Json).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
  );

/**
 * What Swagger UI 5's Try it out fills a parameter in with (ParameterRow's setDefaultValue): its
 * `examples` (the first), its content's `example`, its own `example`, or its schema's `example` or
 * `default`. Schema `examples` too, should a later version read them.
 */
function prefillsOf(parameter: Json): unknown[] {
  const content = Object.values((parameter.content ?? {}) as Json).map((media) => media.example);
  const examples = Object.values((parameter.examples ?? {}) as Json).map((example) => example.value);
  const { example, default: fallback, examples: schemaExamples } = (parameter.schema ?? {}) as Json;
  return [parameter.example, ...examples, ...content, example, fallback, ...(schemaExamples ?? [])].filter((value) => value !== undefined);
}

describe('Try it out on the rendered document (Swagger UI at /docs)', () => {
  it('fills in no parameter: no Idempotency-Key, wait, Prefer or task id is sent unless the user types one', () => {
    const seen = new Set<string>();
    for (const { name, operation } of pathOperations()) {
      for (const parameter of ((operation.parameters ?? []) as Json[]).map(resolve)) {
        seen.add(parameter.name);
        expect(prefillsOf(parameter), `${name} ${parameter.name}`).toEqual([]);
      }
    }
    expect([...seen]).toEqual(expect.arrayContaining(['Idempotency-Key', 'wait', 'Prefer', 'id']));
    const id = doc.components.parameters.taskId;
    expect(id).toMatchObject({ in: 'path', required: true, description: expect.stringContaining('paste the `id` of a `POST /tasks` answer') });
  });

  it('fills POST /tasks in with add 1..6, which answers 200 with the result the page promises', async () => {
    const [first] = Object.values(doc.paths['/tasks'].post.requestBody.content['application/json'].examples as Json);
    expect(first.value).toEqual({ name: 'add', args: [1, 2, 3, 4, 5, 6] });
    const { app, bearer } = harness();
    const response = await app.request('/tasks', jsonPost(first.value, { authorization: await bearer() }));
    expect(response.status).toBe(200);
    const view = (await expectDocumented('/tasks', 'post', response)) as Json;
    expect(view).toMatchObject({ state: 'SUCCESS', result: 21 });
    expect(doc.info.description).toContain(`\`${JSON.stringify(first.value)}\`, answers 200 with \`"result": ${view.result}\``);
  });

  it('says at the top how to authorize: a token from POST /auth/token pasted into Authorize, kept in the tab for its life', async () => {
    const { description } = doc.info;
    for (const step of ['`POST /auth/token`', '**Execute**', '**Authorize**', 'without `Bearer `', '`POST /tasks`', 'browser tab']) {
      expect(description).toContain(step);
    }
    // The field to copy is the one the token answer has.
    expect(description).toContain('Copy the `token`');
    expect(doc.components.schemas.TokenResponse.required).toContain('token');
    // Locally, the user of the login example, which logs in.
    const [login] = Object.values(doc.paths['/auth/token'].post.requestBody.content['application/json'].examples as Json);
    expect(description).toContain(`\`${login.value.username}\` / \`${login.value.password}\``);
    expect((await harness().app.request('/auth/token', jsonPost(login.value))).status).toBe(200);
    // "An hour": the default of DOOZER_JWT_TTL_SECONDS.
    expect(description).toContain('an hour unless the deployment sets another');
    const config = loadApiConfig({
      DOOZER_STAGE: 'local',
      DOOZER_TABLE_NAME: 'tasks',
      DOOZER_QUEUE_URL: 'http://localhost:9324/000000000000/tasks',
      DOOZER_JWT_SECRET: 's'.repeat(32),
      DOOZER_USERS: JSON.stringify([{ username: 'alice', passwordHash: await testPasswordHash('pw') }]),
    });
    expect(config.auth.ttlSeconds).toBe(3600);
  });
});

/** The example bodies of an error answer: its `example`, or its named `examples`. */
function errorExamples(answer: Json): Json[] {
  const content = answer.content['application/json'];
  if (content.example !== undefined) return [content.example];
  return Object.values((content.examples ?? {}) as Json).map(({ value }) => value);
}

/** The codes of lib/errors.ts that answer with `status`; 415 is `invalid_request` with a status of its own. */
function codesOfStatus(status: number): ErrorCode[] {
  return status === 415 ? ['invalid_request'] : ERROR_CODES.filter((code) => DEFAULT_STATUS[code] === status);
}

describe('the error answers in the document', () => {
  const errorAnswers = () =>
    pathOperations().flatMap(({ name, operation }) =>
      Object.entries(operation.responses as Json)
        .filter(([status]) => Number(status) >= 400)
        .map(([status, answer]) => ({ name, status: Number(status), answer: resolve(answer) })),
    );

  it('show, for each status, an example of each code it names and only of codes that status answers with', () => {
    expect(errorAnswers().length).toBeGreaterThan(40);
    const validate = validatorFor({ $ref: '#/components/schemas/ErrorResponse' });
    for (const { name, status, answer } of errorAnswers()) {
      const examples = errorExamples(answer);
      expect(examples.length, `${name} ${status}`).toBeGreaterThan(0);
      const codes = examples.map((example) => example.error.code);
      for (const example of examples) expect(validate(example), `${name} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
      for (const code of codes) expect(codesOfStatus(status), `${name} ${status}`).toContain(code);
      // The description ends with the codes the answer has: "… Code: `a`, `b`."
      const named = [...(answer.description as string).split('Code: ').at(-1)!.matchAll(/`(\w+)`/g)].map(([, code]) => code);
      expect(codes, `${name} ${status}: one example per code`).toEqual(named);
      const content = answer.content['application/json'];
      if (codes.length > 1) expect(Object.keys(content.examples), `${name} ${status}`).toEqual(codes);
    }
  });

  it('give every error answer of the components an example, the unreferenced 405 included', () => {
    for (const [name, answer] of Object.entries(doc.components.responses as Json)) {
      expect(errorExamples(answer).length, name).toBeGreaterThan(0);
    }
    expect(errorExamples(doc.components.responses.MethodNotAllowed)).toMatchObject([{ error: { code: 'method_not_allowed' } }]);
  });

  it('give the statuses of one operation examples of their own', () => {
    for (const { name, operation } of pathOperations()) {
      const shown = Object.entries(operation.responses as Json)
        .filter(([status]) => Number(status) >= 400)
        .map(([, answer]) => JSON.stringify(errorExamples(resolve(answer))));
      expect(new Set(shown).size, name).toBe(shown.length);
    }
  });
});

/** A task id in a message, to compare an answer about one task with an example about another. */
const TASK_ID = /task_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Checks an error answer against the document (expectDocumented), then that the example of its code
 * is its very body, but for the id of the task it is about.
 */
async function expectExampleAnswer(path: string, method: string, response: Response, expected: { status: number; code: ErrorCode }) {
  expect(response.status, `${method.toUpperCase()} ${path}`).toBe(expected.status);
  const body = (await expectDocumented(path, method, response)) as Json;
  const examples = errorExamples(resolve(doc.paths[path][method].responses[String(response.status)]));
  const example = examples.find((candidate) => candidate.error.code === body.error.code);
  expect(example, `${method.toUpperCase()} ${path} ${response.status} ${body.error.code}`).toBeDefined();
  const [exampleId] = (example!.error.message as string).match(TASK_ID) ?? [];
  const message = exampleId === undefined ? body.error.message : (body.error.message as string).replace(TASK_ID, exampleId);
  expect({ ...body, error: { ...body.error, message } }).toEqual(example);
  expect(body.error.code).toBe(expected.code);
}

describe('the error examples are what the app answers', () => {
  it('on the routes without a token: a bad, wrong, oversized or non-JSON login, and a store that is not ready', async () => {
    const { app } = harness();
    const post = (body: unknown, headers?: Record<string, string>) => app.request('/auth/token', jsonPost(body, headers));
    await expectExampleAnswer('/auth/token', 'post', await post({ username: 'doozer' }), { status: 400, code: 'invalid_request' });
    await expectExampleAnswer('/auth/token', 'post', await post({ ...USER, password: 'wrong' }), { status: 401, code: 'unauthorized' });
    await expectExampleAnswer('/auth/token', 'post', await post({ ...USER, password: 'x'.repeat(MAX_BODY_BYTES) }), { status: 413, code: 'payload_too_large' });
    const text = await app.request('/auth/token', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    await expectExampleAnswer('/auth/token', 'post', text, { status: 415, code: 'invalid_request' });
    const { app: notReady } = createTestApp({
      worker: false,
      readiness: [{ name: 'store', check: () => Promise.reject(new Error('down')) }, { name: 'queue', check: async () => {} }],
    });
    await expectExampleAnswer('/ready', 'get', await notReady.request('/ready'), { status: 503, code: 'unavailable' });
  });

  it('past the login limit of one user name from one address', async () => {
    const { app } = createTestApp({ worker: false, loginThrottle: true });
    let answer: Response | undefined;
    for (let attempt = 0; attempt < 10 && answer?.status !== 429; attempt += 1) {
      answer = await app.request('/auth/token', jsonPost({ ...USER, password: 'wrong' }));
    }
    await expectExampleAnswer('/auth/token', 'post', answer!, { status: 429, code: 'too_many_requests' });
  });

  it('on the task routes: each refusal of a request, and a task that is not there or has ended', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const get = (path: string, headers: Record<string, string> = { authorization }) => app.request(path, { headers });
    const post = (path: string, body: unknown) => app.request(path, jsonPost(body, { authorization }));
    await expectExampleAnswer('/tasks', 'get', await get('/tasks', {}), { status: 401, code: 'unauthorized' });
    await expectExampleAnswer('/tasks', 'get', await get('/tasks?limit=abc'), { status: 400, code: 'invalid_request' });
    await expectExampleAnswer('/tasks', 'get', await get('/tasks?name=pow'), { status: 400, code: 'unknown_task' });
    await expectExampleAnswer('/tasks', 'post', await post('/tasks', { name: 'add', args: [1, 2.5] }), { status: 400, code: 'invalid_request' });
    await expectExampleAnswer('/tasks', 'post', await post('/tasks', { name: 'pow', args: [2, 10] }), { status: 400, code: 'unknown_task' });
    await expectExampleAnswer('/tasks', 'post', await post('/tasks', { name: 'add', args: ['1'.repeat(MAX_BODY_BYTES)] }), {
      status: 413,
      code: 'payload_too_large',
    });
    const text = await app.request('/tasks', { method: 'POST', headers: { authorization, 'content-type': 'text/plain' }, body: '{}' });
    await expectExampleAnswer('/tasks', 'post', text, { status: 415, code: 'invalid_request' });
    const tooMany = { tasks: Array.from({ length: 101 }, () => ({ name: 'add', args: [1] })) };
    await expectExampleAnswer('/tasks/batch', 'post', await post('/tasks/batch', tooMany), { status: 400, code: 'invalid_request' });
    const big = { tasks: [{ name: 'add', args: ['1'.repeat(1024 * 1024)] }] };
    await expectExampleAnswer('/tasks/batch', 'post', await post('/tasks/batch', big), { status: 413, code: 'payload_too_large' });
    await expectExampleAnswer('/tasks/{id}', 'get', await get('/tasks/1'), { status: 400, code: 'invalid_request' });
    await expectExampleAnswer('/tasks/{id}/cancel', 'post', await post('/tasks/1/cancel', undefined), { status: 400, code: 'invalid_request' });
    await expectExampleAnswer('/tasks/{id}', 'get', await get(`/tasks/${NO_SUCH_TASK}`), { status: 404, code: 'task_not_found' });
    await expectExampleAnswer('/tasks/{id}/cancel', 'post', await post(`/tasks/${NO_SUCH_TASK}/cancel`, undefined), {
      status: 404,
      code: 'task_not_found',
    });
    const done = (await (await post('/tasks', { name: 'add', args: [1] })).json()) as { id: string };
    await expectExampleAnswer('/tasks/{id}/cancel', 'post', await post(`/tasks/${done.id}/cancel`, undefined), { status: 409, code: 'task_ended' });
    const wrongMethod = await get('/tasks/batch');
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toEqual(errorExamples(doc.components.responses.MethodNotAllowed)[0]);
  });

  it('for an Idempotency-Key reused or still in progress, an outage and a bug', async () => {
    const { app, bearer, store, clock, idempotency } = harness({ worker: false });
    const authorization = await bearer();
    const submit = (args: number[], key: string) => app.request('/tasks?wait=0', jsonPost({ name: 'add', args }, { authorization, 'idempotency-key': key }));
    expect((await submit([1], 'k1')).status).toBe(202);
    await expectExampleAnswer('/tasks', 'post', await submit([2], 'k1'), { status: 422, code: 'idempotency_key_reused' });
    claimInProgress(idempotency, clock.now(), 'k2', [3]);
    await expectExampleAnswer('/tasks', 'post', await submit([3], 'k2'), { status: 409, code: 'request_in_progress' });
    store.failNext('create');
    await expectExampleAnswer('/tasks', 'post', await submit([4], 'k3'), { status: 503, code: 'unavailable' });
    const { tasks, app: buggy } = createTestApp({ store, worker: false });
    tasks.list = () => Promise.reject(new TypeError('a bug'));
    await expectExampleAnswer('/tasks', 'get', await buggy.request('/tasks', { headers: { authorization } }), { status: 500, code: 'internal' });
  });

  it('past the default request rate, and past the default open-task limit', async () => {
    const { app, bearer } = createTestApp({ worker: false, profiles: { users: [{ username: USER.username, passwordHash: 'unused' }], defaultLimits: DEFAULT_USER_LIMITS } });
    const authorization = await bearer(USER.username);
    const fill = { tasks: Array.from({ length: DEFAULT_USER_LIMITS.openTasks }, () => ({ name: 'add', args: [1] })) };
    expect((await app.request('/tasks/batch', jsonPost(fill, { authorization }))).status).toBe(200);
    const full = await app.request('/tasks?wait=0', jsonPost({ name: 'add', args: [1] }, { authorization }));
    await expectExampleAnswer('/tasks', 'post', full, { status: 429, code: 'open_task_limit' });
    let limited: Response | undefined;
    for (let attempt = 0; attempt < 10 * DEFAULT_USER_LIMITS.burst && limited?.status !== 429; attempt += 1) {
      limited = await app.request('/tasks?limit=1', { headers: { authorization } });
    }
    await expectExampleAnswer('/tasks', 'get', limited!, { status: 429, code: 'too_many_requests' });
  });
});

describe('requests built from the document', () => {
  it('accepts the documented request body examples, with the parameter values the descriptions suggest', async () => {
    const { app, bearer } = harness();
    const login = doc.paths['/auth/token'].post.requestBody.content['application/json'].examples;
    for (const { value } of Object.values(login as Json)) {
      await expectDocumented('/auth/token', 'post', await app.request('/auth/token', jsonPost(value)));
    }
    const { parameters } = doc.components;
    for (const [name, value] of [['wait', '0'], ['wait', '2.5'], ['Prefer', 'wait=2'], ['IdempotencyKey', '2f1c9a0e-order-42']] as const) {
      expect(parameterSchema(name)(value), `${name}: ${value}`).toBe(true);
      expect(parameters[name].description, name).toContain(`\`${value}\``);
    }
    const tasks = doc.paths['/tasks'].post.requestBody.content['application/json'].examples;
    for (const [index, { value }] of Object.values(tasks as Json).entries()) {
      const headers = { authorization: await bearer(), prefer: 'wait=2', 'idempotency-key': `2f1c9a0e-order-42-${index}` };
      const response = await app.request('/tasks?wait=0', jsonPost(value, headers));
      expect(response.status).toBe(202);
      const view = (await expectDocumented('/tasks', 'post', response)) as { id: string };
      const lookup = await app.request(`/tasks/${view.id}?wait=2.5`, { headers: { authorization: await bearer(), prefer: 'wait=2' } });
      expect(lookup.status).toBe(200);
      await expectDocumented('/tasks/{id}', 'get', lookup);
    }
    const unknown = await app.request(`/tasks/${NO_SUCH_TASK}`, { headers: { authorization: await bearer() } });
    expect(unknown.status).toBe(404);
    await expectDocumented('/tasks/{id}', 'get', unknown);
  });

  it('answers the documented example bodies the way the response examples show', async () => {
    const { app, bearer } = harness();
    const examples = doc.paths['/tasks'].post.responses['200'].content['application/json'].examples;
    for (const { value } of Object.values(examples as Json)) {
      const response = await app.request('/tasks', jsonPost({ name: value.name, args: value.args }, { authorization: await bearer() }));
      expect(response.status).toBe(200);
      const view = await expectDocumented('/tasks', 'post', response);
      expect(view).toMatchObject({ name: value.name, args: value.args, state: value.state, result: value.result });
    }
  });

  // Arguments the document allows, at and inside its limits; and single arguments at or just past
  // them, put among allowed ones so that each decides alone whether the body is valid.
  const allowedArgument = fc.oneof(
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -0, '0', '-0', '007', '1'.repeat(1000), `-${'9'.repeat(1000)}`),
  );
  const edgeArgument = fc.oneof(
    allowedArgument,
    fc.constantFrom(2 ** 53, -(2 ** 53), 1e21, 1.5, -0.5, '1'.repeat(1001), `-${'1'.repeat(1001)}`),
    fc.constantFrom('+1', ' 1', '1 ', '', '-', '1e3', '1.0', '0x10', '١'),
    fc.constantFrom(null, true, [], {}, [1], { x: 1 }),
    fc.double(),
    fc.string({ maxLength: 3 }),
  );
  const args = fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(fc.array(allowedArgument, { maxLength: 5 }), fc.option(edgeArgument, { nil: undefined, freq: 2 }), fc.nat())
        .map(([allowed, edge, at]): unknown[] => {
          if (edge === undefined) return allowed;
          const index = at % (allowed.length + 1);
          return [...allowed.slice(0, index), edge, ...allowed.slice(index)];
        }),
    },
    { weight: 1, arbitrary: fc.constantFrom(1000, 1001).map((length) => Array.from({ length }, (_, index) => index)) },
  );
  const taskBody = fc.oneof(
    { weight: 6, arbitrary: fc.record({ name: fc.constantFrom('add', 'mul'), args }) },
    {
      weight: 3,
      arbitrary: fc.record(
        { name: fc.constantFrom('add', 'mul', 'pow', 'ADD', '', 1, null), args: fc.oneof(args, edgeArgument), extra: fc.jsonValue() },
        { requiredKeys: [] },
      ),
    },
    { weight: 1, arbitrary: fc.jsonValue() },
  );

  it('accepts a POST /tasks body exactly when it matches the documented schema, else answers 400', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const matches = requestSchema('/tasks', 'post');
    await fc.assert(
      fc.asyncProperty(taskBody, async (body) => {
        const text = JSON.stringify(body);
        const response = await app.request('/tasks', jsonPost(text, { authorization }));
        expect(response.status).toBe(matches(JSON.parse(text)) ? 200 : 400);
        await expectDocumented('/tasks', 'post', response);
      }),
      { numRuns: 400 },
    );
  });

  it('accepts a POST /auth/token body exactly when it matches the documented schema, else answers 400', async () => {
    const { app } = harness();
    const matches = requestSchema('/auth/token', 'post');
    const credentials = fc.record(
      {
        username: fc.oneof(fc.constantFrom('doozer', ''), fc.string({ maxLength: 5 }), fc.integer()),
        password: fc.oneof(fc.constantFrom('doozer', ''), fc.string({ maxLength: 5 }), fc.constant(null)),
        other: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 5, arbitrary: credentials }, { weight: 1, arbitrary: fc.jsonValue() }), async (body) => {
        const text = JSON.stringify(body);
        const response = await app.request('/auth/token', jsonPost(text));
        if (matches(JSON.parse(text))) expect([200, 401]).toContain(response.status);
        else expect(response.status).toBe(400);
        await expectDocumented('/auth/token', 'post', response);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts ?wait= exactly when it matches the documented schema, else answers 400', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const matches = parameterSchema('wait');
    const wait = fc.oneof(
      fc.stringMatching(/^0{0,2}\d(\.\d{1,3})?$/),
      fc.constantFrom('5', '5.0', '5.000', '5.001', '05', '6', '10', '4.999999', '', '.5', '1.', '-0', '1e0', ' 1', 'abc'),
      fc.string({ maxLength: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(wait, async (value) => {
        const response = await app.request(`/tasks?wait=${encodeURIComponent(value)}`, jsonPost({ name: 'add', args: [1] }, { authorization }));
        // A wait of 0 answers before the worker ran: 202.
        if (matches(value)) expect([200, 202]).toContain(response.status);
        else expect(response.status).toBe(400);
        await expectDocumented('/tasks', 'post', response);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts a task id exactly when it matches the documented schema, else answers 400', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const matches = parameterSchema('taskId');
    const id = fc.oneof(
      fc.uuid({ version: 4 }).map((uuid) => `task_${uuid}`),
      fc.uuid().map((uuid) => `task_${uuid}`),
      fc.uuid({ version: 4 }).map((uuid) => `task_${uuid.toUpperCase()}`),
      fc.uuid({ version: 4 }),
      // Not the dot segments: URL parsing resolves `/tasks/.` to `/tasks/` (and `..` further up)
      // before any router sees it, so they never reach `/tasks/{id}` (found as a flaky 404).
      fc.string({ minLength: 1, maxLength: 8 }).filter((value) => value !== '.' && value !== '..'),
    );
    await fc.assert(
      fc.asyncProperty(id, async (value) => {
        const response = await app.request(`/tasks/${encodeURIComponent(value)}`, { headers: { authorization } });
        expect(response.status).toBe(matches(value) ? 404 : 400);
        await expectDocumented('/tasks/{id}', 'get', response);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts an Idempotency-Key exactly when it matches the documented schema, else answers 400', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const matches = parameterSchema('IdempotencyKey');
    const character = fc.oneof(
      { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
      { weight: 1, arbitrary: fc.constantFrom(0x09, 0xe9, 0x7f) },
    );
    const key = fc.oneof(
      fc.array(character, { minLength: 1, maxLength: 12 }).map((codes) => String.fromCharCode(...codes)),
      fc.constantFrom('k'.repeat(255), 'k'.repeat(256), ' '),
    );
    await fc.assert(
      fc.asyncProperty(key, async (value) => {
        const headers = new Headers({ authorization, 'idempotency-key': value });
        // What goes over the wire: HTTP drops spaces and tabs around a header value.
        const sent = headers.get('idempotency-key') ?? '';
        headers.set('content-type', 'application/json');
        const response = await app.request('/tasks', { ...jsonPost({ name: 'add', args: [1] }), headers });
        expect(response.status).toBe(matches(sent) ? 200 : 400);
        await expectDocumented('/tasks', 'post', response);
      }),
      { numRuns: 200 },
    );
  });

  it('documents GET /ready both ways, and the 405 of a known path with another method', async () => {
    const readyApp = (check: () => Promise<void>) =>
      createTestApp({ worker: false, readiness: [{ name: 'store', check }, { name: 'queue', check: async () => {} }] }).app;
    const ready = await readyApp(async () => {}).request('/ready');
    expect(ready.status).toBe(200);
    await expectDocumented('/ready', 'get', ready);
    const notReady = await readyApp(() => Promise.reject(new Error('down'))).request('/ready');
    expect(notReady.status).toBe(503);
    await expectDocumented('/ready', 'get', notReady);
    const wrongMethod = await harness().app.request('/tasks', { method: 'PUT' });
    expect(wrongMethod.status).toBe(405);
    const documented = resolve(doc.components.responses.MethodNotAllowed);
    expect(Object.keys(documented.headers)).toEqual(['Allow']);
    const body = await wrongMethod.json();
    expect(validatorFor(documented.content['application/json'].schema)(body)).toBe(true);
  });

  it('documents the other answers the app gives: 401, 409, 413, 415, 422 and 503, and a replay', async () => {
    const { app, bearer, store, clock, idempotency } = harness({ worker: false });
    const authorization = await bearer();
    const anonymous = await app.request('/tasks', jsonPost({ name: 'add', args: [1] }));
    expect(anonymous.status).toBe(401);
    await expectDocumented('/tasks', 'post', anonymous);
    const badToken = await app.request(`/tasks/${NO_SUCH_TASK}`, { headers: { authorization: 'Bearer x' } });
    expect(badToken.status).toBe(401);
    await expectDocumented('/tasks/{id}', 'get', badToken);
    const wrong = await app.request('/auth/token', jsonPost({ username: 'doozer', password: 'wrong' }));
    expect(wrong.status).toBe(401);
    await expectDocumented('/auth/token', 'post', wrong);
    const big = await app.request('/tasks', jsonPost({ name: 'add', args: ['1'.repeat(MAX_BODY_BYTES)] }, { authorization }));
    expect(big.status).toBe(413);
    await expectDocumented('/tasks', 'post', big);
    const text = await app.request('/auth/token', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(text.status).toBe(415);
    await expectDocumented('/auth/token', 'post', text);
    const first = await app.request('/tasks?wait=0', jsonPost({ name: 'add', args: [1] }, { authorization, 'idempotency-key': 'k1' }));
    expect(first.status).toBe(202);
    await expectDocumented('/tasks', 'post', first);
    const reused = await app.request('/tasks?wait=0', jsonPost({ name: 'add', args: [2] }, { authorization, 'idempotency-key': 'k1' }));
    expect(reused.status).toBe(422);
    await expectDocumented('/tasks', 'post', reused);
    const replayed = await app.request('/tasks?wait=0', jsonPost({ name: 'add', args: [1] }, { authorization, 'idempotency-key': 'k1' }));
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    await expectDocumented('/tasks', 'post', replayed);
    // A claim whose request has not recorded its task yet (it is between its two writes).
    claimInProgress(idempotency, clock.now(), 'k2', [3]);
    const inProgress = await app.request('/tasks?wait=0', jsonPost({ name: 'add', args: [3] }, { authorization, 'idempotency-key': 'k2' }));
    expect(inProgress.status).toBe(409);
    await expectDocumented('/tasks', 'post', inProgress);
    store.failNext('create');
    const down = await app.request('/tasks', jsonPost({ name: 'add', args: [1] }, { authorization }));
    expect(down.status).toBe(503);
    await expectDocumented('/tasks', 'post', down);
  });
});

describe('the lifecycle routes answer as documented', () => {
  it('documents GET /tasks: a page, the next page by its cursor, and a 400 for a cursor that was altered', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    for (const args of [[1], [2], [3]]) await app.request('/tasks', jsonPost({ name: 'add', args }, { authorization }));
    const first = await app.request('/tasks?limit=2&state=SUCCESS&name=add', { headers: { authorization } });
    expect(first.status).toBe(200);
    const page = (await expectDocumented('/tasks', 'get', first)) as { tasks: unknown[]; next: string };
    expect(page.tasks).toHaveLength(2);
    const second = await app.request(`/tasks?limit=2&state=SUCCESS&name=add&cursor=${encodeURIComponent(page.next)}`, {
      headers: { authorization },
    });
    expect(((await expectDocumented('/tasks', 'get', second)) as { next: unknown }).next).toBeNull();
    const altered = await app.request(`/tasks?cursor=${encodeURIComponent(`x${page.next}`)}`, { headers: { authorization } });
    expect(altered.status).toBe(400);
    await expectDocumented('/tasks', 'get', altered);
  });

  it('documents POST /tasks/{id}/cancel: 200 CANCELLED, 409 with the state of an ended task, 404', async () => {
    const { app, bearer } = harness({ worker: false });
    const authorization = await bearer();
    const open = (await (await app.request('/tasks?wait=0', jsonPost({ name: 'add', args: [1] }, { authorization }))).json()) as { id: string };
    const cancelled = await app.request(`/tasks/${open.id}/cancel`, { method: 'POST', headers: { authorization } });
    expect(cancelled.status).toBe(200);
    expect(await expectDocumented('/tasks/{id}/cancel', 'post', cancelled)).toMatchObject({ state: 'CANCELLED' });
    const { app: running, bearer: runningBearer } = harness();
    const runningAuth = await runningBearer();
    const done = (await (await running.request('/tasks', jsonPost({ name: 'add', args: [1] }, { authorization: runningAuth }))).json()) as {
      id: string;
    };
    const ended = await running.request(`/tasks/${done.id}/cancel`, { method: 'POST', headers: { authorization: runningAuth } });
    expect(ended.status).toBe(409);
    expect(await expectDocumented('/tasks/{id}/cancel', 'post', ended)).toMatchObject({ error: { code: 'task_ended', state: 'SUCCESS' } });
    const unknown = await app.request(`/tasks/${NO_SUCH_TASK}/cancel`, { method: 'POST', headers: { authorization } });
    expect(unknown.status).toBe(404);
    await expectDocumented('/tasks/{id}/cancel', 'post', unknown);
  });

  it('documents POST /tasks/batch: per-item results, a replay, 400 past 100 items, 413 past the body limit', async () => {
    const { app, bearer } = harness({ worker: false });
    const authorization = await bearer();
    const example = doc.components.schemas.BatchRequest.examples[0];
    const body = { tasks: [...example.tasks, { name: 'nope', args: [] }, { name: 'add', args: 'x' }] };
    const answer = await app.request('/tasks/batch', jsonPost(body, { authorization, 'idempotency-key': 'b1' }));
    expect(answer.status).toBe(200);
    const { results } = (await expectDocumented('/tasks/batch', 'post', answer)) as { results: Record<string, { code?: string }>[] };
    expect(results.map((result) => Object.keys(result)[0])).toEqual(['task', 'task', 'error', 'error']);
    expect(results.slice(2).map((result) => result.error!.code)).toEqual(['unknown_task', 'invalid_request']);
    const replay = await app.request('/tasks/batch', jsonPost(body, { authorization, 'idempotency-key': 'b1' }));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await expectDocumented('/tasks/batch', 'post', replay)).toEqual({ results });
    const tooMany = await app.request('/tasks/batch', jsonPost({ tasks: Array.from({ length: 101 }, () => ({ name: 'add', args: [1] })) }, { authorization }));
    expect(tooMany.status).toBe(400);
    expect(((await expectDocumented('/tasks/batch', 'post', tooMany)) as { error: { message: string } }).error.message).toContain('100');
    const big = await app.request('/tasks/batch', jsonPost({ tasks: [{ name: 'add', args: ['1'.repeat(1024 * 1024)] }] }, { authorization }));
    expect(big.status).toBe(413);
    await expectDocumented('/tasks/batch', 'post', big);
  });
});

describe('a task to run later', () => {
  it('is answered 202 at once, with Retry-After saying when it runs', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const response = await app.request('/tasks', jsonPost({ name: 'add', args: [1], delaySeconds: 3600 }, { authorization }));
    expect(response.status).toBe(202);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(3590);
    expect(await expectDocumented('/tasks', 'post', response)).toMatchObject({ state: 'SCHEDULED', runAt: expect.any(String) });
  });
});

describe('what the lifecycle routes refuse', () => {
  it('names the fault: a limit that is not a number, a task name that is no task, a query on a batch', async () => {
    const { app, bearer } = harness();
    const authorization = await bearer();
    const limit = await app.request('/tasks?limit=abc', { headers: { authorization } });
    expect(limit.status).toBe(400);
    expect(await expectDocumented('/tasks', 'get', limit)).toEqual({
      error: { code: 'invalid_request', message: 'query.limit must be a whole number from 1 to 100' },
    });
    const name = await app.request('/tasks?name=ad', { headers: { authorization } });
    expect(name.status).toBe(400);
    expect(await expectDocumented('/tasks', 'get', name)).toMatchObject({ error: { code: 'unknown_task', message: expect.stringContaining('known tasks: add') } });
    const batch = await app.request('/tasks/batch?wait=5', jsonPost({ tasks: [{ name: 'add', args: [1] }] }, { authorization }));
    expect(batch.status).toBe(400);
    expect(await expectDocumented('/tasks/batch', 'post', batch)).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('no query parameters') } });
  });
});

describe('the per-user limits in the document', () => {
  /** Every operation of the document, with whether it asks for a token. */
  const operations = () =>
    Object.entries(doc.paths as Json).flatMap(([path, methods]) =>
      Object.entries(methods as Json).map(([method, operation]) => ({
        name: `${method.toUpperCase()} ${path}`,
        operation,
        secured: operation.security.length > 0,
      })),
    );

  it('declares the RateLimit headers on every answer behind a token but the 401, and on no other', () => {
    for (const name of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy']) {
      expect(doc.components.headers[name].description, name).toEqual(expect.any(String));
    }
    for (const { name, operation, secured } of operations()) {
      for (const [status, answer] of Object.entries(operation.responses as Json)) {
        const declared = Object.keys(resolve(answer).headers ?? {}).map((header) => header.toLowerCase());
        const expected = secured && status !== '401' ? RATE_LIMIT_HEADERS : [];
        expect(declared.filter((header) => header.startsWith('ratelimit-')).sort(), `${name} ${status}`).toEqual([...expected].sort());
      }
    }
  });

  it('documents a 429 on every operation behind a token, naming the open-task limit on the submissions; /auth/token keeps the login one', () => {
    const submissions = ['POST /tasks', 'POST /tasks/batch'];
    for (const { name, operation } of operations().filter((entry) => entry.secured)) {
      const answer = resolve(operation.responses['429'] ?? {});
      expect(answer.description, name).toContain('request rate');
      expect(Object.keys(answer.headers), name).toContain('Retry-After');
      if (submissions.includes(name)) expect(answer.description, name).toContain('open-task limit');
      else expect(answer.description, name).not.toContain('open-task');
    }
    const login = resolve(doc.paths['/auth/token'].post.responses['429']);
    expect(login.description).toContain('Login limits');
    expect(Object.keys(login.headers)).toEqual(['Retry-After']);
  });

  it('documents callbackUrl in every task request, and callbackUrl and webhook in the task view', () => {
    for (const option of doc.components.schemas.TaskRequest.oneOf) {
      expect(option.properties.callbackUrl, option.title).toMatchObject({ type: 'string', maxLength: 2048, description: expect.any(String) });
    }
    const view = doc.components.schemas.TaskView.properties;
    expect(view.callbackUrl).toMatchObject({ type: 'string', description: expect.stringContaining('taskEnded') });
    expect(view.webhook).toMatchObject({ required: ['id', 'state', 'attempts'], additionalProperties: false, description: expect.any(String) });
    expect(view.webhook.properties.state.enum).toEqual(['pending', 'delivered', 'failed']);
    for (const field of Object.values(view.webhook.properties as Json)) expect(field.description).toEqual(expect.any(String));
    expect(doc.components.schemas.TaskView.required).not.toContain('webhook');
  });

  it('holds the answers the app gives with its limits on: RateLimit headers everywhere, a 429 of each limit, a task view with its webhook', async () => {
    const { app, bearer } = limitedHarness({ burst: 20, openTasks: 2 });
    const authorization = await bearer();
    const withCallback = { name: 'add', args: [1, 2], callbackUrl: 'https://example.com/hooks' };
    const submitted = await app.request('/tasks?wait=0', jsonPost(withCallback, { authorization }));
    expect(submitted.status).toBe(202);
    const open = (await expectDocumented('/tasks', 'post', submitted)) as { id: string };
    expect(open).toMatchObject({ callbackUrl: withCallback.callbackUrl });
    expect(open).not.toHaveProperty('webhook');
    const cancelled = await app.request(`/tasks/${open.id}/cancel`, { method: 'POST', headers: { authorization } });
    expect(await expectDocumented('/tasks/{id}/cancel', 'post', cancelled)).toMatchObject({ webhook: { state: 'pending', attempts: 0 } });
    const lookedUp = await app.request(`/tasks/${open.id}`, { headers: { authorization } });
    expect(await expectDocumented('/tasks/{id}', 'get', lookedUp)).toMatchObject({ webhook: { state: 'pending', attempts: 0 } });
    await expectDocumented('/tasks', 'get', await app.request('/tasks', { headers: { authorization } }));
    const badItem = { name: 'add', args: [1], callbackUrl: 'http://example.com/hooks' };
    const batch = await app.request('/tasks/batch', jsonPost({ tasks: [withCallback, badItem] }, { authorization }));
    expect(batch.status).toBe(200);
    const { results } = (await expectDocumented('/tasks/batch', 'post', batch)) as { results: Json[] };
    expect(results.map((result) => Object.keys(result)[0])).toEqual(['task', 'error']);
    const bad = await app.request('/tasks', jsonPost(badItem, { authorization }));
    expect(bad.status).toBe(400);
    await expectDocumented('/tasks', 'post', bad);
    const unknown = await app.request(`/tasks/${NO_SUCH_TASK}`, { headers: { authorization } });
    expect(unknown.status).toBe(404);
    await expectDocumented('/tasks/{id}', 'get', unknown);
    // One task open from the batch: one more fits, then neither a task nor a batch does.
    expect((await app.request('/tasks?wait=0', jsonPost(withCallback, { authorization }))).status).toBe(202);
    const full = await app.request('/tasks?wait=0', jsonPost(withCallback, { authorization }));
    expect(full.status).toBe(429);
    await expectDocumented('/tasks', 'post', full);
    const fullBatch = await app.request('/tasks/batch', jsonPost({ tasks: [withCallback] }, { authorization }));
    expect(fullBatch.status).toBe(429);
    await expectDocumented('/tasks/batch', 'post', fullBatch);
    for (const answer of [submitted, cancelled, lookedUp, batch, bad, unknown, full, fullBatch]) {
      for (const header of RATE_LIMIT_HEADERS) expect(answer.headers.has(header), `${answer.status} ${header}`).toBe(true);
    }
    let limited: Response | undefined;
    for (let attempt = 0; attempt < 30 && limited === undefined; attempt += 1) {
      const answer = await app.request(`/tasks/${open.id}`, { headers: { authorization } });
      if (answer.status === 429) limited = answer;
    }
    expect(limited?.headers.get('ratelimit-remaining')).toBe('0');
    await expectDocumented('/tasks/{id}', 'get', limited!);
  });
});

describe('the taskEnded webhook in the document', () => {
  const webhook = doc.webhooks?.taskEnded?.post as Json;
  const payloadSchema = () => validatorFor(webhook.requestBody.content['application/json'].schema);
  const headerSchema = (name: string) => {
    const parameter = (webhook.parameters as Json[]).map(resolve).find((entry) => entry.name === name) as Json;
    return validatorFor(parameter.schema);
  };

  /** A task that ended, as the store keeps it, with a delivery under way. */
  const endedTask = (overrides: Partial<Task> = {}): Task => ({
    id: 'task_0c5e6a52-3f7b-4d1e-9a40-5b8f2e7d9c13',
    owner: USER.username,
    name: 'add',
    args: [1, 2],
    state: 'SUCCESS',
    result: 3,
    callbackUrl: 'https://example.com/hooks',
    webhook: { state: 'pending', attempts: 2, lastStatus: 503, lastAttemptAt: '2025-01-01T12:00:05.000Z', nextAttemptAt: '2025-01-01T12:05:05.000Z' },
    createdAt: '2025-01-01T12:00:00.000Z',
    updatedAt: '2025-01-01T12:00:00.016Z',
    expiresAt: 1_736_337_600,
    ...overrides,
  });

  it('is a POST of the ended task with the three Standard Webhooks headers, answered with a 2xx', () => {
    expect(Object.keys(doc.webhooks)).toEqual(['taskEnded']);
    expect(webhook.requestBody).toMatchObject({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/TaskEndedPayload' } } },
    });
    const headers = (webhook.parameters as Json[]).map(resolve);
    expect(headers.map(({ name, in: where, required }) => ({ name, where, required }))).toEqual(
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({ name, where: 'header', required: true })),
    );
    expect(Object.keys(webhook.responses)).toContain('2XX');
  });

  it('describes the retries and deduplication by webhook-id', () => {
    expect(webhook.description).toContain('5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h');
    expect(webhook.description).toMatch(/429.*5xx.*timeout.*failed connection/);
    expect(webhook.description).toContain('at least once');
    expect(webhook.description).toContain('`webhook-id`');
  });

  it('holds a real delivery: the payload of an ended task and the headers it is signed with', () => {
    const body = webhookPayloadOf(endedTask());
    const validate = payloadSchema();
    expect(validate(JSON.parse(body)), JSON.stringify(validate.errors)).toBe(true);
    const signed = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, webhookIdOf(endedTask().id), new Date(), body);
    for (const [name, value] of Object.entries(signed)) expect(headerSchema(name)(value), `${name}: ${value}`).toBe(true);
    expect(headerSchema('webhook-signature')(`${signed['webhook-signature']} ${signed['webhook-signature']}`)).toBe(true);
  });

  it('refuses as a payload a view with its webhook, a task that has not ended, and one without a callbackUrl', () => {
    const validate = payloadSchema();
    expect(validate(toTaskView(endedTask()))).toBe(false);
    expect(validate(JSON.parse(webhookPayloadOf(endedTask({ state: 'PENDING', result: undefined }))))).toBe(false);
    expect(validate(JSON.parse(webhookPayloadOf(endedTask({ callbackUrl: undefined }))))).toBe(false);
    const failed = endedTask({ state: 'FAILURE', result: undefined, error: { code: 'timeout', message: 'too slow' } });
    expect(validate(JSON.parse(webhookPayloadOf(failed)))).toBe(true);
    expect(validate(JSON.parse(webhookPayloadOf(endedTask({ state: 'CANCELLED', result: undefined }))))).toBe(true);
  });

  it('has examples that fit their schemas, and headers that sign the example body as the local stage would', () => {
    const taskExamples = doc.components.schemas.TaskView.examples as Json[];
    for (const example of taskExamples) expect(validatorFor({ $ref: '#/components/schemas/Task' })(example), example.id).toBe(true);
    const [example] = Object.values(webhook.requestBody.content['application/json'].examples as Json).map(({ value }) => value as Json);
    expect(payloadSchema()(example)).toBe(true);
    const headers = Object.fromEntries((webhook.parameters as Json[]).map(resolve).map(({ name, example: value }) => [name, value]));
    const signedAt = new Date(Number(headers['webhook-timestamp']) * 1000);
    const signed = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, webhookIdOf(example!.id), signedAt, JSON.stringify(example));
    expect(headers).toEqual(signed);
  });
});

/** A claim of `key` whose request has not recorded its task yet (it is between its two writes). */
function claimInProgress(idempotency: { claims: Map<string, unknown> }, nowMs: number, key: string, args: number[]): void {
  const claimId = idempotencyClaimId(USER.username, key);
  idempotency.claims.set(claimId, {
    id: claimId,
    owner: USER.username,
    taskId: 'task_00000000-0000-4000-8000-000000000000',
    requestDigest: taskInputDigest({ name: 'add', args }),
    createdAt: new Date(nowMs).toISOString(),
    expiresAt: Math.floor(nowMs / 1000) + 3600,
  });
}
