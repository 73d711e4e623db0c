import * as z from 'zod/mini';
import packageJson from '../../package.json' with { type: 'json' };
import { type AttemptRule, DEFAULT_LOGIN_LIMITS } from '../auth/login-throttle.ts';
import { DEFAULT_STATUS, type ErrorCode } from '../errors.ts';
import { type TaskView, isTerminal } from '../tasks/task.ts';
import type { TaskCatalog } from '../tasks/task-catalog.ts';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES } from './json-limits.ts';
import { CredentialsSchema } from './request-body.ts';
import { IdempotencyKeySchema, ListQuerySchema, TaskIdSchema } from './request-params.ts';
import {
  BatchItemErrorSchema,
  ErrorResponseSchema,
  HealthSchema,
  ReadySchema,
  TaskFailureSchema,
  TaskProgressSchema,
  TaskTypesSchema,
  TaskViewSchema,
  TokenResponseSchema,
} from './response-schemas.ts';
import { wireJsonSchema } from './task-types.ts';
import { PreferHeaderSchema, WaitQuerySchema } from './wait-preference.ts';

/**
 * The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`. Every schema in it is
 * generated (`z.toJSONSchema`, JSON Schema 2020-12, which OpenAPI 3.1 uses as is) from the zod
 * schemas that validate requests (request-body.ts, request-params.ts, wait-preference.ts) and
 * describe answers (response-schemas.ts); only the routes, statuses and headers are written here,
 * and test/unit/openapi.test.ts holds them to what the app really serves.
 */

type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A schema as a standalone JSON Schema, without the keywords that only a root document carries. */
function jsonSchema(schema: z.ZodMiniType, io: Io): JsonSchema {
  return withoutRootKeywords(z.toJSONSchema(schema, { io }) as JsonSchema);
}

/** Named schemas that refer to each other by `$ref`, as OpenAPI components. */
function componentSchemas(named: Record<string, z.ZodMiniType>, io: Io): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutRootKeywords(schema as JsonSchema)]));
}

/** `$schema` and `$id` (zod sets `$id` to the ref URI, whose fragment 2020-12 forbids in `$id`). */
function withoutRootKeywords({ $schema: _schema, $id: _id, ...rest }: JsonSchema): JsonSchema {
  return rest;
}

/** A parameter whose description and example come from its schema. */
function parameter(name: string, where: 'query' | 'header' | 'path', schema: z.ZodMiniType): JsonSchema {
  const { description, examples, ...rest } = jsonSchema(schema, 'input');
  return {
    name,
    in: where,
    required: where === 'path',
    description,
    schema: rest,
    ...(Array.isArray(examples) && { example: examples[0] }),
  };
}

/** A JSON request or response body, its examples taken from the schema's (those that `fits`). */
function jsonContent(name: string, schemas: Record<string, JsonSchema>, fits: (example: unknown) => boolean = () => true): JsonSchema {
  const examples = schemas[name]?.examples;
  const fitting = Array.isArray(examples) ? examples.filter(fits) : [];
  return {
    'application/json': {
      schema: ref(name),
      ...(fitting.length > 0 && {
        examples: Object.fromEntries(fitting.map((value, index) => [`example${index + 1}`, { value }])),
      }),
    },
  };
}

const header = (description: string, schema: JsonSchema) => ({ description, schema });

/** Response headers, by name. */
const HEADERS = {
  Location: header('Where to look the task up: `/tasks/<id>`.', {
    type: 'string',
    examples: ['/tasks/task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006'],
  }),
  'Retry-After': header('Seconds to wait before trying again or looking the task up.', { type: 'integer', minimum: 0 }),
  'Preference-Applied': header('The `Prefer` preference that was honoured: `wait=N` or `respond-async`.', { type: 'string' }),
  'Idempotent-Replayed': header('`true` when the answer is the task of an earlier request with the same `Idempotency-Key`.', {
    type: 'string',
    enum: ['true'],
  }),
  Allow: header('The methods the path answers.', { type: 'string', examples: ['GET, HEAD, OPTIONS'] }),
  'WWW-Authenticate': header('`Bearer realm="doozer"`, with `error="invalid_token"` when a token was sent but refused.', {
    type: 'string',
  }),
} as const;

type HeaderName = keyof typeof HEADERS;

const headerRefs = (names: HeaderName[]) => Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));

/**
 * The error answers, one per status. `codes` are ErrorCodes, so the compiler checks their names; the
 * statuses come from lib/errors.ts except 415, which is `invalid_request` with another status.
 */
const ERROR_RESPONSES = {
  BadRequest: errorResponse(['invalid_request'], 'The request is malformed: see `message`.'),
  BadTaskRequest: errorResponse(
    ['invalid_request', 'unknown_task'],
    'The request is malformed, or its args fail the task\'s schema (`message` names up to three faults, each field and its rule); ' +
      '`unknown_task` when no task has that name (`message` lists the known ones).',
  ),
  Unauthorized: errorResponse(
    ['unauthorized'],
    'No bearer token, or a bad, expired or oversized (over 4 KiB) one; or wrong credentials.',
    ['WWW-Authenticate'],
  ),
  TaskNotFound: errorResponse(['task_not_found'], 'No such task: unknown, expired or another user\'s (all answer alike).'),
  RequestInProgress: errorResponse(
    ['request_in_progress'],
    'The first request with this `Idempotency-Key` has not recorded its task yet: try again after `Retry-After`.',
    ['Retry-After'],
  ),
  PayloadTooLarge: errorResponse(['payload_too_large'], `The body is larger than ${MAX_BODY_BYTES} bytes.`),
  BatchTooLarge: errorResponse(['payload_too_large'], `The body is larger than ${MAX_BATCH_BODY_BYTES} bytes: split the batch.`),
  TaskEnded: errorResponse(
    ['task_ended'],
    'The task has already ended (SUCCESS or FAILURE) and cannot be cancelled; `state` says which.',
  ),
  UnsupportedMediaType: errorResponse(
    ['invalid_request'],
    'The body is not `application/json` (a `+json` type or parameters are fine).',
    [],
    415,
  ),
  IdempotencyKeyReused: errorResponse(['idempotency_key_reused'], 'This `Idempotency-Key` was used for a different request.'),
  TooManyRequests: errorResponse(
    ['too_many_requests'],
    loginLimitsText(),
    ['Retry-After'],
  ),
  Unavailable: errorResponse(['unavailable'], 'The queue or the store is unreachable: try again after `Retry-After`.', ['Retry-After']),
  NotReady: errorResponse(['unavailable'], 'The store or the queue did not answer; `message` names which.', ['Retry-After']),
  MethodNotAllowed: errorResponse(['method_not_allowed'], 'The path exists, but not for this method: see `Allow`.', ['Allow']),
  Internal: errorResponse(['internal'], 'A bug; the detail is logged, never sent.'),
} as const;

/** The login limits, in words, from the values the API enforces. */
function loginLimitsText(): string {
  const { perUserAndAddress, perUser, perAddress } = DEFAULT_LOGIN_LIMITS;
  const minutes = (rule: AttemptRule) => `${rule.windowSeconds / 60} minutes`;
  return (
    `Login limits, each over a rolling window: ${perUserAndAddress.limit} wrong passwords for one user name from one address in any ${minutes(perUserAndAddress)}, ` +
    `${perUser.limit} for one name from all addresses (not counted against an address the user has logged in from) in any ${minutes(perUser)}, ` +
    `${perAddress.limit} from one address whatever the names in any ${minutes(perAddress)}; ` +
    'or more logins are waiting for a password check than the service takes at once.'
  );
}

function errorResponse(codes: ErrorCode[], description: string, headers: HeaderName[] = [], status?: number) {
  const [first] = codes;
  return {
    status: status ?? DEFAULT_STATUS[first as ErrorCode],
    response: {
      description: `${description} Code: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
      ...(headers.length > 0 && { headers: headerRefs(headers) }),
      content: { 'application/json': { schema: ref('ErrorResponse') } },
    },
  };
}

/** `{"400": {$ref}, "401": {$ref}, …}` for the named error answers. */
function errors(...names: (keyof typeof ERROR_RESPONSES)[]): Record<string, JsonSchema> {
  return Object.fromEntries(names.map((name) => [String(ERROR_RESPONSES[name].status), { $ref: `#/components/responses/${name}` }]));
}

const BEARER = [{ bearerAuth: [] }];

/**
 * A task of each type: the common TaskView, with `name`, `args` and `result` narrowed to what that
 * type's schemas say (their wire side, as `POST /tasks` takes and `GET /task-types` lists them).
 */
function taskOfEachType(catalog: TaskCatalog): JsonSchema {
  return {
    description: 'A task, as `POST /tasks` and `GET /tasks/{id}` show it; `name` tells which type it is.',
    oneOf: catalog.definitions.map((task) => ({
      title: task.name,
      allOf: [
        ref('TaskView'),
        {
          type: 'object',
          properties: {
            name: { const: task.name },
            args: wireJsonSchema(task.args),
            ...(task.result && { result: wireJsonSchema(task.result) }),
          },
        },
      ],
    })),
  };
}

/** Builds the document for the tasks of `catalog`. Pure: `openApiJson()` keeps a serialized copy. */
export function buildOpenApiDocument(catalog: TaskCatalog): JsonSchema {
  const requests = {
    ...componentSchemas({ Credentials: CredentialsSchema }, 'input'),
    TaskRequest: {
      ...wireJsonSchema(catalog.requestSchema),
      description:
        'A task type and its args: one of the types below (`GET /task-types` lists them too). ' +
        'A key repeated in one object is refused (400); ' +
        `the body must be \`application/json\` (else 415) of at most ${MAX_BODY_BYTES} bytes (else 413).`,
      examples: [
        { name: 'add', args: [1, 2, 3, 4, 5, 6] },
        { name: 'mul', args: ['123456789012345678901234567890', 2] },
        { name: 'sleep', args: { ms: 3000 } },
        { name: 'add', args: [1, 2], delaySeconds: 60 },
      ].filter((example) => catalog.get(example.name)),
    },
    BatchRequest: {
      type: 'object',
      description:
        `Up to ${MAX_BATCH_TASKS} task requests, each as \`POST /tasks\` takes it; a bad item refuses only itself. ` +
        `At most ${MAX_BATCH_BODY_BYTES} bytes (else 413).`,
      required: ['tasks'],
      additionalProperties: false,
      properties: { tasks: { type: 'array', minItems: 1, maxItems: MAX_BATCH_TASKS, items: ref('TaskRequest') } },
      examples: [{ tasks: [{ name: 'add', args: [1, 2] }, { name: 'add', args: [3, 4], delaySeconds: 30 }] }],
    },
  };
  const responses = componentSchemas(
    {
      TaskView: TaskViewSchema,
      TaskFailure: TaskFailureSchema,
      TaskProgress: TaskProgressSchema,
      TaskTypes: TaskTypesSchema,
      TaskId: TaskIdSchema,
      TokenResponse: TokenResponseSchema,
      Health: HealthSchema,
      Ready: ReadySchema,
      ErrorResponse: ErrorResponseSchema,
      BatchItemError: BatchItemErrorSchema,
    },
    'output',
  );
  const lists = {
    TaskList: {
      type: 'object',
      description: 'One page of the caller\'s tasks, newest first.',
      required: ['tasks', 'next'],
      additionalProperties: false,
      properties: {
        tasks: { type: 'array', items: ref('Task') },
        next: {
          type: ['string', 'null'],
          description: 'Pass it as `cursor` for the next page; `null` on the last page. A page may hold fewer tasks than `limit` and still have a `next`.',
        },
      },
    },
    BatchResponse: {
      type: 'object',
      description: 'One result per item, in the order of the request: the accepted task, or why the item was not accepted.',
      required: ['results'],
      additionalProperties: false,
      properties: {
        results: {
          type: 'array',
          items: {
            oneOf: [
              { type: 'object', required: ['task'], additionalProperties: false, properties: { task: ref('Task') } },
              { type: 'object', required: ['error'], additionalProperties: false, properties: { error: ref('BatchItemError') } },
            ],
          },
        },
      },
    },
  };
  const schemas = { ...requests, ...responses, ...lists, Task: taskOfEachType(catalog) };
  const taskAnswer = (description: string, headers: HeaderName[], ended?: boolean) => ({
    description,
    headers: headerRefs(headers),
    content: {
      'application/json': {
        ...(jsonContent('TaskView', schemas, (example) => ended === undefined || isTerminal((example as TaskView).state) === ended)[
          'application/json'
        ] as JsonSchema),
        schema: ref('Task'),
      },
    },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'doozer',
      version: packageJson.version,
      description:
        'Run named tasks: get the answer within seconds, or a task id to look up later. ' +
        'Get a token from `POST /auth/token` and send it as `Authorization: Bearer <token>`. ' +
        'Every error has one shape, `{"error":{"code","message"}}`; an unknown route is a 404 `not_found`, ' +
        'and a known path asked with another method a 405 `method_not_allowed` with `Allow` (OPTIONS: 204 with `Allow`).',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'tasks', description: 'Submit tasks (now, later, or in batches), look them up, list and cancel them.' },
      { name: 'auth', description: 'Bearer tokens.' },
      { name: 'meta', description: 'Health, readiness and this document.' },
    ],
    paths: {
      '/health': {
        get: {
          operationId: 'getHealth',
          tags: ['meta'],
          summary: 'Is the API up',
          security: [],
          description: 'Liveness: the API process answers. It checks nothing behind it; `/ready` does.',
          responses: { 200: { description: 'Up.', content: jsonContent('Health', schemas) } },
        },
      },
      '/ready': {
        get: {
          operationId: 'getReadiness',
          tags: ['meta'],
          summary: 'Can the API take tasks now',
          description: 'Readiness: reads the task store and the task queue. `npm start` waits for it before it says the stack is running.',
          security: [],
          responses: {
            200: { description: 'The store and the queue both answer.', content: jsonContent('Ready', schemas) },
            ...errors('NotReady'),
          },
        },
      },
      '/auth/token': {
        post: {
          operationId: 'issueToken',
          tags: ['auth'],
          summary: 'Get a bearer token',
          security: [],
          requestBody: { required: true, content: jsonContent('Credentials', schemas) },
          responses: {
            200: { description: 'A token for the user.', content: jsonContent('TokenResponse', schemas) },
            ...errors(
              'BadRequest',
              'Unauthorized',
              'PayloadTooLarge',
              'UnsupportedMediaType',
              'TooManyRequests',
              'Unavailable',
              'Internal',
            ),
          },
        },
      },
      '/tasks': {
        get: {
          operationId: 'listTasks',
          tags: ['tasks'],
          summary: 'List my tasks',
          description:
            'The caller\'s tasks, newest first, a page at a time: pass `next` as `cursor` for the following page. ' +
            'Only the caller\'s own tasks are ever listed; a cursor is bound to the user it was given to (another user\'s, ' +
            'or an altered one, is a 400). Unknown query parameters are a 400. Just-submitted tasks may take a moment to appear.',
          security: BEARER,
          parameters: [
            parameter('state', 'query', ListQuerySchema.def.shape.state),
            parameter('name', 'query', ListQuerySchema.def.shape.name),
            parameter('limit', 'query', ListQuerySchema.def.shape.limit),
            parameter('cursor', 'query', ListQuerySchema.def.shape.cursor),
          ],
          responses: {
            200: { description: 'A page of tasks.', content: jsonContent('TaskList', schemas) },
            ...errors('BadTaskRequest', 'Unauthorized', 'Unavailable', 'Internal'),
          },
        },
        post: {
          operationId: 'submitTask',
          tags: ['tasks'],
          summary: 'Submit a task and wait for it to end',
          description:
            'Records the task, queues it, and waits (5 s unless `?wait=` or `Prefer` says otherwise) for it to end: ' +
            '200 with the result, else 202 with the task to look up later.',
          security: BEARER,
          parameters: [
            { $ref: '#/components/parameters/wait' },
            { $ref: '#/components/parameters/Prefer' },
            { $ref: '#/components/parameters/IdempotencyKey' },
          ],
          requestBody: { required: true, content: jsonContent('TaskRequest', schemas) },
          responses: {
            200: taskAnswer(
              'The task ended within the wait: SUCCESS with `result` or FAILURE with `error`.',
              ['Preference-Applied', 'Idempotent-Replayed'],
              true,
            ),
            202: taskAnswer('The task was accepted and has not ended yet: look it up at `Location`.', [
              'Location',
              'Retry-After',
              'Preference-Applied',
              'Idempotent-Replayed',
            ], false),
            ...errors(
              'BadTaskRequest',
              'Unauthorized',
              'RequestInProgress',
              'PayloadTooLarge',
              'UnsupportedMediaType',
              'IdempotencyKeyReused',
              'Unavailable',
              'Internal',
            ),
          },
        },
      },
      '/tasks/batch': {
        post: {
          operationId: 'submitTaskBatch',
          tags: ['tasks'],
          summary: 'Submit up to 100 tasks at once',
          description:
            'Records and queues every acceptable item and answers at once, without waiting for results: one result per item, ' +
            'in order. An item is accepted whole or not at all. When no item could be accepted for an outage, the whole ' +
            'request is a 503. With an `Idempotency-Key`, a repeat of the same body answers with the same tasks.',
          security: BEARER,
          parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
          requestBody: { required: true, content: jsonContent('BatchRequest', schemas) },
          responses: {
            200: { description: 'A result per item.', headers: headerRefs(['Idempotent-Replayed']), content: jsonContent('BatchResponse', schemas) },
            ...errors(
              'BadRequest',
              'Unauthorized',
              'RequestInProgress',
              'BatchTooLarge',
              'UnsupportedMediaType',
              'IdempotencyKeyReused',
              'Unavailable',
              'Internal',
            ),
          },
        },
      },
      '/tasks/{id}/cancel': {
        post: {
          operationId: 'cancelTask',
          tags: ['tasks'],
          summary: 'Cancel a task',
          description:
            'Ends an open task (SCHEDULED, PENDING or RETRY) as CANCELLED: a scheduled one is never queued, one that is not ' +
            'pure never starts, a running (or pure) one is told to stop within milliseconds, and whatever it returns is not ' +
            'kept; a caller waiting on it is answered. Cancelling a cancelled task answers the same again.',
          security: BEARER,
          parameters: [{ $ref: '#/components/parameters/taskId' }],
          responses: {
            200: taskAnswer('The task, CANCELLED.', [], true),
            ...errors('BadRequest', 'Unauthorized', 'TaskNotFound', 'TaskEnded', 'RequestInProgress', 'Unavailable', 'Internal'),
          },
        },
      },
      '/tasks/{id}': {
        get: {
          operationId: 'getTask',
          tags: ['tasks'],
          summary: 'Look a task up',
          description: 'Does not wait unless `?wait=` or `Prefer` asks, so a client can long-poll a task that has not ended.',
          security: BEARER,
          parameters: [
            { $ref: '#/components/parameters/taskId' },
            { $ref: '#/components/parameters/wait' },
            { $ref: '#/components/parameters/Prefer' },
          ],
          responses: {
            200: taskAnswer('The task; `Retry-After` is set while it has not ended.', ['Retry-After', 'Preference-Applied']),
            ...errors('BadRequest', 'Unauthorized', 'TaskNotFound', 'Unavailable', 'Internal'),
          },
        },
      },
      '/task-types': {
        get: {
          operationId: 'listTaskTypes',
          tags: ['tasks'],
          summary: 'The task types there are',
          description: 'Each task type with its description, limits, and the JSON Schemas of its args and result.',
          security: [],
          responses: { 200: { description: 'The task types.', content: jsonContent('TaskTypes', schemas) } },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          tags: ['meta'],
          summary: 'This document',
          security: [],
          responses: {
            200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
      '/docs': {
        get: {
          operationId: 'getDocs',
          tags: ['meta'],
          summary: 'This document, rendered',
          security: [],
          responses: {
            200: {
              description: 'An HTML page (Swagger UI) that renders `/openapi.json`.',
              content: { 'text/html': { schema: { type: 'string' } } },
            },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from `POST /auth/token`.' },
      },
      schemas,
      parameters: {
        taskId: parameter('id', 'path', TaskIdSchema),
        wait: parameter('wait', 'query', WaitQuerySchema),
        Prefer: parameter('Prefer', 'header', PreferHeaderSchema),
        IdempotencyKey: parameter('Idempotency-Key', 'header', IdempotencyKeySchema),
      },
      headers: HEADERS,
      responses: Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([name, { response }]) => [name, response])),
    },
  };
}

const cached = new WeakMap<TaskCatalog, string>();

/** The document as JSON, built on the first call (not at cold start) and kept for the instance's life. */
export function openApiJson(catalog: TaskCatalog): string {
  let json = cached.get(catalog);
  if (json === undefined) {
    json = JSON.stringify(buildOpenApiDocument(catalog));
    cached.set(catalog, json);
  }
  return json;
}
