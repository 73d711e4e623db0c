import * as z from 'zod/mini';
import packageJson from '../../package.json' with { type: 'json' };
import { type AttemptRule, DEFAULT_LOGIN_LIMITS } from '../auth/login-throttle.ts';
import { DEFAULT_STATUS, type ErrorCode } from '../errors.ts';
import { DEFAULT_USER_LIMITS } from '../limits/user-limits.ts';
import { TERMINAL_STATES, type TaskView, isTerminal } from '../tasks/task.ts';
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
  WebhookIdSchema,
} from './response-schemas.ts';
import { wireJsonSchema } from './task-types.ts';
import { PreferHeaderSchema, WaitQuerySchema } from './wait-preference.ts';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../webhooks/delivery-schedule.ts';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../webhooks/secrets.ts';

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
  // The caller's request rate (lib/limits/user-limits.ts), by the draft-07 field names of
  // draft-ietf-httpapi-ratelimit-headers, which clients and gateways read today.
  'RateLimit-Limit': header('Your burst: the requests your rate limit lets you make at once when you have made none for a while.', {
    type: 'integer',
    minimum: 1,
    examples: [DEFAULT_USER_LIMITS.burst],
  }),
  'RateLimit-Remaining': header('The requests you could still make now, at once; 0 on a 429 of the rate limit.', {
    type: 'integer',
    minimum: 0,
  }),
  'RateLimit-Reset': header('Seconds until your whole burst is available again; 0 when it is.', { type: 'integer', minimum: 0 }),
  'RateLimit-Policy': header(
    '`<burst>;w=<seconds>`: your burst, and the seconds it takes to come back once spent (burst / your requests per second, ' +
      'rounded up). Requests come back one at a time, evenly over that window.',
    {
      type: 'string',
      pattern: '^\\d+;w=\\d+$',
      examples: [`${DEFAULT_USER_LIMITS.burst};w=${Math.ceil(DEFAULT_USER_LIMITS.burst / DEFAULT_USER_LIMITS.requestsPerSecond)}`],
    },
  ),
} as const;

type HeaderName = keyof typeof HEADERS;

const headerRefs = (names: readonly HeaderName[]) => Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));

/**
 * On every answer to a request whose bearer token was accepted, errors included: the caller is known
 * and their request counted. Not on a 401 (no caller yet), nor on the routes without a token.
 */
const RATE_LIMIT: readonly HeaderName[] = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy'];

/** Why a callbackUrl is refused, in words (lib/webhooks/target-policy.ts and `callbackOf` in app.ts). */
const CALLBACK_REFUSALS =
  'not an absolute `https` URL (the local stage also takes `http`), longer than 2048 characters, with a user name, password or ' +
  'fragment, or at a private, loopback (outside the local stage), link-local, cloud metadata or other special-purpose address; ' +
  'or your user has no webhook secret to sign it with';

/**
 * The error answers, one per status. `codes` are ErrorCodes, so the compiler checks their names; the
 * statuses come from lib/errors.ts except 415, which is `invalid_request` with another status.
 *
 * An answer given only behind a bearer token declares the caller's RateLimit-* headers itself; one
 * that the routes without a token give too has an `Authenticated…` twin that declares them, for the
 * task routes (a response `$ref` cannot add headers).
 */
const PUBLIC_ERROR_RESPONSES = {
  BadRequest: errorResponse(['invalid_request'], 'The request is malformed: see `message`.'),
  Unauthorized: errorResponse(
    ['unauthorized'],
    'No bearer token, or a bad, expired or oversized (over 4 KiB) one; or wrong credentials.',
    ['WWW-Authenticate'],
  ),
  PayloadTooLarge: errorResponse(['payload_too_large'], `The body is larger than ${MAX_BODY_BYTES} bytes.`),
  UnsupportedMediaType: errorResponse(
    ['invalid_request'],
    'The body is not `application/json` (a `+json` type or parameters are fine).',
    [],
    415,
  ),
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

const ERROR_RESPONSES = {
  ...PUBLIC_ERROR_RESPONSES,
  BadTaskRequest: errorResponse(
    ['invalid_request', 'unknown_task'],
    'The request is malformed, or its args fail the task\'s schema (`message` names up to three faults, each field and its rule); ' +
      '`unknown_task` when no task has that name (`message` lists the known ones). ' +
      `Also \`invalid_request\` for a \`callbackUrl\` (the task's own, or your default) that is refused: ${CALLBACK_REFUSALS}; ` +
      '`message` says why.',
    RATE_LIMIT,
  ),
  TaskNotFound: errorResponse(['task_not_found'], 'No such task: unknown, expired or another user\'s (all answer alike).', RATE_LIMIT),
  RequestInProgress: errorResponse(
    ['request_in_progress'],
    'The first request with this `Idempotency-Key` has not recorded its task yet: try again after `Retry-After`.',
    ['Retry-After', ...RATE_LIMIT],
  ),
  BatchTooLarge: errorResponse(['payload_too_large'], `The body is larger than ${MAX_BATCH_BODY_BYTES} bytes: split the batch.`, RATE_LIMIT),
  TaskEnded: errorResponse(
    ['task_ended'],
    'The task has already ended (SUCCESS or FAILURE) and cannot be cancelled; `state` says which.',
    RATE_LIMIT,
  ),
  IdempotencyKeyReused: errorResponse(['idempotency_key_reused'], 'This `Idempotency-Key` was used for a different request.', RATE_LIMIT),
  RateLimited: errorResponse(['too_many_requests'], rateLimitText(), ['Retry-After', ...RATE_LIMIT]),
  RateOrOpenTaskLimited: errorResponse(['too_many_requests', 'open_task_limit'], `${rateLimitText()} Or, ${openTaskLimitText()}`, ['Retry-After', ...RATE_LIMIT]),
  AuthenticatedBadRequest: authenticated(PUBLIC_ERROR_RESPONSES.BadRequest),
  AuthenticatedPayloadTooLarge: authenticated(PUBLIC_ERROR_RESPONSES.PayloadTooLarge),
  AuthenticatedUnsupportedMediaType: authenticated(PUBLIC_ERROR_RESPONSES.UnsupportedMediaType),
  AuthenticatedUnavailable: authenticated(
    PUBLIC_ERROR_RESPONSES.Unavailable,
    'The `RateLimit-*` headers are missing when it is the rate limit\'s own store that did not answer.',
  ),
  AuthenticatedInternal: authenticated(PUBLIC_ERROR_RESPONSES.Internal),
} as const;

/** The request rate, in words, with the defaults of lib/limits/user-limits.ts. */
function rateLimitText(): string {
  const { burst, requestsPerSecond } = DEFAULT_USER_LIMITS;
  return (
    'Past your request rate: every request with an accepted bearer token counts (whatever its answer, but for a 429 of the ' +
    'rate itself), on every task route together. You may make `RateLimit-Limit` requests at once; they come back evenly over ' +
    `the window of \`RateLimit-Policy\` (by default ${burst} at once and ${requestsPerSecond} a second on average, unless the ` +
    'deployment or your user sets others). Wait `Retry-After` seconds; `RateLimit-Remaining` is 0.'
  );
}

/** The open-task limit, in words, with the default of lib/limits/user-limits.ts. */
function openTaskLimitText(): string {
  return (
    'on a submission, past your open-task limit: the tasks you have that have not ended (SCHEDULED, PENDING or RETRY) count ' +
    `against it (by default ${DEFAULT_USER_LIMITS.openTasks}). A batch needs a place for every task it would accept, and is ` +
    'refused whole when they do not all fit (a batch larger than the limit itself is a 400: split it). `Retry-After` is 1: ' +
    'wait for some tasks to end, or cancel some. The code says which limit it was: `too_many_requests` for the rate, ' +
    '`open_task_limit` for the open tasks; `message` gives the numbers.'
  );
}

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

function errorResponse(codes: ErrorCode[], description: string, headers: readonly HeaderName[] = [], status?: number) {
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

type ErrorEntry = ReturnType<typeof errorResponse>;

/** An answer given on the public routes too, as a task route gives it: with the caller's RateLimit-* headers. */
function authenticated(entry: ErrorEntry, note?: string): ErrorEntry {
  const { description, headers, ...rest } = entry.response;
  return {
    status: entry.status,
    response: {
      ...rest,
      description: note === undefined ? description : `${description} ${note}`,
      headers: { ...headers, ...headerRefs(RATE_LIMIT) },
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

/**
 * The body of the `taskEnded` webhook (`webhookPayloadOf` in lib/tasks/task.ts): the task view once it
 * ended, which has a callbackUrl, without `webhook` (the delivery's own record, which the body cannot know).
 */
function taskEndedPayload(responses: Record<string, JsonSchema>): JsonSchema {
  const examples = (responses.TaskView?.examples ?? []) as Partial<TaskView>[];
  return {
    description:
      'The task as `GET /tasks/{id}` shows it once it ended (SUCCESS, FAILURE or CANCELLED), without `webhook`; ' +
      '`name` tells which type it is. The same body, byte for byte, on every attempt of a delivery.',
    allOf: [
      ref('Task'),
      {
        type: 'object',
        required: ['callbackUrl'],
        properties: { state: { enum: [...TERMINAL_STATES] }, callbackUrl: { type: 'string' }, webhook: false },
      },
    ],
    examples: examples
      .filter((example) => example.callbackUrl !== undefined && example.state !== undefined && isTerminal(example.state))
      .map(({ webhook: _delivery, ...payload }) => payload),
  };
}

/**
 * The headers of the third TaskView example's delivery: signed (`signWebhook`, lib/webhooks/signing.ts)
 * with the local stage's development secret at its end, over its `taskEnded` body, so a receiver can
 * try its check on them. Written out rather than signed here: the API does not bundle the signing
 * library. test/unit/openapi.test.ts signs the example again and compares.
 */
const WEBHOOK_EXAMPLE_HEADERS = {
  'webhook-id': 'msg_7a3d2c41-9e5b-4f60-8b1a-2c4d6e8f0a13',
  'webhook-timestamp': '1735732800',
  'webhook-signature': 'v1,Zx4rWFYwXk3QoJmPjdcM+lPB1E+Pjmd4N39ptFN2fNw=',
} as const;

/** The Standard Webhooks headers of the `taskEnded` webhook (lib/webhooks/signing.ts), as parameters. */
function webhookParameters(): Record<string, JsonSchema> {
  const { description: _description, ...idSchema } = jsonSchema(WebhookIdSchema, 'output');
  const header = (name: keyof typeof WEBHOOK_EXAMPLE_HEADERS, description: string, schema: JsonSchema) => ({
    name,
    in: 'header',
    required: true,
    description,
    schema,
    example: WEBHOOK_EXAMPLE_HEADERS[name],
  });
  return {
    WebhookId: header(
      'webhook-id',
      'The delivery\'s id, `msg_` and the task id\'s UUID: the same on every attempt of it (and the task\'s `webhook.id`). ' +
        'Deliveries are at least once, so keep the ids you have handled and skip one seen before.',
      idSchema,
    ),
    WebhookTimestamp: header(
      'webhook-timestamp',
      'When this attempt was signed, in Unix seconds; each attempt is signed anew. Refuse one more than 5 minutes from your ' +
        'clock (a replayed request).',
      { type: 'string', pattern: '^\\d+$' },
    ),
    WebhookSignature: header(
      'webhook-signature',
      '`v1,` and the base64 of the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` (the body as received, byte for ' +
        'byte), keyed with the base64-decoded part of your `whsec_` secret after the prefix. A space-separated list should ' +
        'there ever be more than one (a key rotation): accept the request when one of them matches. Any Standard Webhooks ' +
        'library checks it. The examples sign the example body with the local stage\'s development secret ' +
        `(\`${DEVELOPMENT_WEBHOOK_SECRET}\`).`,
      { type: 'string', pattern: '^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$' },
    ),
  };
}

/** The `taskEnded` webhook, in words, with the retry schedule of lib/webhooks/webhook-notifier.ts. */
function webhookText(): string {
  const schedule = DEFAULT_RETRY_SCHEDULE_SECONDS.map(durationText).join(', ');
  const lastAfterHours = Math.round(DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((sum, seconds) => sum + seconds, 0) / 3600);
  return (
    'When a task with a `callbackUrl` ends (SUCCESS, FAILURE or CANCELLED), doozer POSTs it there as JSON, signed per ' +
    '[Standard Webhooks](https://www.standardwebhooks.com) with your user\'s `whsec_` secret: check `webhook-signature` ' +
    'against the raw body before you trust it. A task that was never accepted (its submission failed) is not sent. ' +
    // The bound is HttpWebhookSender's (lib/webhooks/http-sender.ts).
    'An answer within 10 s with a 2xx status delivers it. ' +
    `A 429, a 5xx, a timeout or a failed connection is tried again after ${schedule} ` +
    `(${DEFAULT_RETRY_SCHEDULE_SECONDS.length + 1} attempts, the last about ${lastAfterHours} hours after the first); ` +
    'any other answer fails the delivery at once: redirects are not followed. So does a host that resolves to a private, ' +
    'loopback (outside the local stage), link-local or cloud metadata address, checked on every connection. ' +
    'Delivery is at least once: the same delivery may come more than once, always with the same `webhook-id`, so ' +
    'deduplicate on it. The task\'s `webhook` field (`GET /tasks/{id}`) shows how the delivery is going.'
  );
}

/** 5 -> "5 s", 300 -> "5 min", 7200 -> "2 h". */
function durationText(seconds: number): string {
  if (seconds < 60 || seconds % 60 !== 0) return `${seconds} s`;
  if (seconds < 3600 || seconds % 3600 !== 0) return `${seconds / 60} min`;
  return `${seconds / 3600} h`;
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
  const schemas = { ...requests, ...responses, ...lists, Task: taskOfEachType(catalog), TaskEndedPayload: taskEndedPayload(responses) };
  const webhookHeaders = webhookParameters();
  const taskAnswer = (description: string, headers: readonly HeaderName[], ended?: boolean) => ({
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
        'and a known path asked with another method a 405 `method_not_allowed` with `Allow` (OPTIONS: 204 with `Allow`). ' +
        'Each user has a request rate and a limit of open tasks: every answer behind a token carries `RateLimit-Limit`, ' +
        '`RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`, and past a limit the answer is a 429 ' +
        '`too_many_requests` with `Retry-After`. A task submitted with a `callbackUrl` is POSTed there, signed, when it ends: ' +
        'see `webhooks`.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'tasks', description: 'Submit tasks (now, later, or in batches), look them up, list and cancel them.' },
      { name: 'auth', description: 'Bearer tokens.' },
      { name: 'meta', description: 'Health, readiness and this document.' },
      { name: 'webhooks', description: 'What doozer sends to your `callbackUrl`.' },
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
            200: { description: 'A page of tasks.', headers: headerRefs(RATE_LIMIT), content: jsonContent('TaskList', schemas) },
            ...errors('BadTaskRequest', 'Unauthorized', 'RateLimited', 'AuthenticatedUnavailable', 'AuthenticatedInternal'),
          },
        },
        post: {
          operationId: 'submitTask',
          tags: ['tasks'],
          summary: 'Submit a task and wait for it to end',
          description:
            'Records the task, queues it, and waits (5 s unless `?wait=` or `Prefer` says otherwise) for it to end: ' +
            '200 with the result, else 202 with the task to look up later. With a `callbackUrl` (or your default one), ' +
            'the task is also POSTed there when it ends: see the `taskEnded` webhook.',
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
              ['Preference-Applied', 'Idempotent-Replayed', ...RATE_LIMIT],
              true,
            ),
            202: taskAnswer('The task was accepted and has not ended yet: look it up at `Location`.', [
              'Location',
              'Retry-After',
              'Preference-Applied',
              'Idempotent-Replayed',
              ...RATE_LIMIT,
            ], false),
            ...errors(
              'BadTaskRequest',
              'Unauthorized',
              'RequestInProgress',
              'AuthenticatedPayloadTooLarge',
              'AuthenticatedUnsupportedMediaType',
              'IdempotencyKeyReused',
              'RateOrOpenTaskLimited',
              'AuthenticatedUnavailable',
              'AuthenticatedInternal',
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
            'request is a 503. With an `Idempotency-Key`, a repeat of the same body answers with the same tasks. ' +
            'An item with a refused `callbackUrl` is refused alone (`invalid_request`), as `POST /tasks` would refuse it. ' +
            'Past your open-task limit the whole batch is a 429: it needs a place for every task it would accept.',
          security: BEARER,
          parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
          requestBody: { required: true, content: jsonContent('BatchRequest', schemas) },
          responses: {
            200: {
              description: 'A result per item.',
              headers: headerRefs(['Idempotent-Replayed', ...RATE_LIMIT]),
              content: jsonContent('BatchResponse', schemas),
            },
            ...errors(
              'AuthenticatedBadRequest',
              'Unauthorized',
              'RequestInProgress',
              'BatchTooLarge',
              'AuthenticatedUnsupportedMediaType',
              'IdempotencyKeyReused',
              'RateOrOpenTaskLimited',
              'AuthenticatedUnavailable',
              'AuthenticatedInternal',
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
            'kept; a caller waiting on it is answered. Cancelling a cancelled task answers the same again. A task with a ' +
            '`callbackUrl` is POSTed there as CANCELLED (the `taskEnded` webhook).',
          security: BEARER,
          parameters: [{ $ref: '#/components/parameters/taskId' }],
          responses: {
            200: taskAnswer('The task, CANCELLED.', RATE_LIMIT, true),
            ...errors(
              'AuthenticatedBadRequest',
              'Unauthorized',
              'TaskNotFound',
              'TaskEnded',
              'RequestInProgress',
              'RateLimited',
              'AuthenticatedUnavailable',
              'AuthenticatedInternal',
            ),
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
            200: taskAnswer('The task; `Retry-After` is set while it has not ended.', ['Retry-After', 'Preference-Applied', ...RATE_LIMIT]),
            ...errors('AuthenticatedBadRequest', 'Unauthorized', 'TaskNotFound', 'RateLimited', 'AuthenticatedUnavailable', 'AuthenticatedInternal'),
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
    webhooks: {
      taskEnded: {
        post: {
          operationId: 'taskEnded',
          tags: ['webhooks'],
          summary: 'A task with a callbackUrl ended',
          description: webhookText(),
          parameters: Object.keys(webhookHeaders).map((name) => ({ $ref: `#/components/parameters/${name}` })),
          requestBody: { required: true, content: jsonContent('TaskEndedPayload', schemas) },
          responses: {
            '2XX': { description: 'Delivered: the task\'s `webhook.state` becomes `delivered`. The answer\'s body is not read.' },
            '429': { description: 'Tried again later, as a 5xx is.' },
            '5XX': { description: 'Tried again later, on the schedule above.' },
            default: {
              description: 'Any other answer (a redirect, any 4xx but 429): the delivery fails at once and is not tried again.',
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
        ...webhookHeaders,
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
