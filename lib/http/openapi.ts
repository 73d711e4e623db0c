import * as z from 'zod/mini';
import packageJson from '../../package.json' with { type: 'json' };
import { type AttemptRule, DEFAULT_LOGIN_LIMITS } from '../auth/login-throttle.ts';
import {
  DoozerError,
  IdempotencyKeyReusedError,
  InvalidRequestError,
  MethodNotAllowedError,
  OpenTaskLimitError,
  PayloadTooLargeError,
  RequestInProgressError,
  TaskEndedError,
  TaskNotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
} from '../errors.ts';
import { DEFAULT_USER_LIMITS } from '../limits/user-limits.ts';
import { TERMINAL_STATES, type TaskView, isTerminal } from '../tasks/task.ts';
import { MAX_WAIT_SECONDS } from '../tasks/wait-policy.ts';
import type { TaskCatalog } from '../tasks/task-catalog.ts';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES } from './json-limits.ts';
import { CredentialsSchema } from './request-body.ts';
import { IdempotencyKeySchema, ListQuerySchema, MAX_LIST_LIMIT, TaskIdSchema } from './request-params.ts';
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

/**
 * A parameter whose description comes from its schema, or from `description` where this operation
 * needs other words. Never with an example, its schema's included: Swagger UI's Try it out fills a
 * parameter in with its example (or its schema's `example` or `default`) and sends it, and each of
 * these would change what the request does: a shared Idempotency-Key replays another caller's task,
 * `wait=0` answers 202 rather than waiting, an example task id is always a 404. Values to try are
 * written in the descriptions instead.
 */
function parameter(name: string, where: 'query' | 'header' | 'path', schema: z.ZodMiniType, description?: string): JsonSchema {
  const { description: described, examples: _examples, example: _example, default: _default, ...rest } = jsonSchema(schema, 'input');
  return { name, in: where, required: where === 'path', description: description ?? described, schema: rest };
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
 * The task ids of the error examples: an ended task (the first TaskView example, which succeeded)
 * and a well-formed id of no task.
 */
const ENDED_TASK_ID = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';
const UNKNOWN_TASK_ID = 'task_5f0c2b7e-8d14-4a3b-b6c9-2e7f1a0d4c58';

/**
 * What the app sends at 500 and above in place of the error's own message (GENERIC_MESSAGES in
 * lib/http/app.ts); test/unit/openapi.test.ts holds these examples to the app's real answers.
 */
const UNAVAILABLE_MESSAGE = 'the service is temporarily unavailable; try again shortly';
const INTERNAL_MESSAGE = 'internal error';

/**
 * The error answers, one per status of an operation. Each is given the errors it answers with, one
 * per code, each with the message the caller gets: they make its example bodies, its codes (the
 * compiler checks their names) and its status (lib/errors.ts, or the error's own, as for 415).
 *
 * An answer given only behind a bearer token declares the caller's RateLimit-* headers itself; one
 * that the routes without a token give too has an `Authenticated…` twin that declares them, for the
 * task routes (a response `$ref` cannot add headers). Built with the document, for the catalog: the
 * examples of a refused task list the known tasks.
 */
function errorResponses(catalog: TaskCatalog) {
  const publicResponses = {
    BadLoginRequest: errorResponse(
      'The body is not a JSON object `{"username", "password"}` of two non-empty strings, or repeats a key: `message` names ' +
        'the fault.',
      [new InvalidRequestError('password is required')],
    ),
    WrongCredentials: errorResponse(
      'The user name or the password is wrong (an unknown user answers alike).',
      [new UnauthorizedError('wrong username or password')],
      ['WWW-Authenticate'],
    ),
    PayloadTooLarge: errorResponse(`The body is larger than ${MAX_BODY_BYTES} bytes.`, [new PayloadTooLargeError(MAX_BODY_BYTES)]),
    UnsupportedMediaType: errorResponse('The body is not `application/json` (a `+json` type or parameters are fine).', [
      new InvalidRequestError('send the body as JSON with Content-Type: application/json (got text/plain)', { status: 415 }),
    ]),
    TooManyRequests: errorResponse(loginLimitsText(), [loginRefusal()], ['Retry-After']),
    Unavailable: errorResponse('The queue or the store is unreachable: try again after `Retry-After`.', [new UnavailableError(UNAVAILABLE_MESSAGE)], [
      'Retry-After',
    ]),
    NotReady: errorResponse(
      'The store or the queue did not answer; `message` names which.',
      [new UnavailableError('not ready: the store did not answer', { expose: true })],
      ['Retry-After'],
    ),
    MethodNotAllowed: errorResponse(
      'The path exists, but not for this method: see `Allow`.',
      [new MethodNotAllowedError('GET', '/tasks/batch', ['POST', 'OPTIONS'])],
      ['Allow'],
    ),
    Internal: errorResponse('A bug; the detail is logged, never sent.', [new DoozerError('internal', INTERNAL_MESSAGE)]),
  };
  // An args fault of add, or, should the catalog not have add, a body without a name (refused whatever the tasks).
  const argsFault = refusalOf(catalog, { name: 'add', args: [1, 2.5] });
  const badRequest = argsFault?.code === 'invalid_request' ? argsFault : refusalOf(catalog, { args: [1, 2] })!;
  // A well-formed name of no task, so that `GET /tasks?name=` refuses it alike.
  let unknownName = 'pow';
  while (catalog.get(unknownName)) unknownName += '2';
  const unknownTask = refusalOf(catalog, { name: unknownName, args: [2, 10] })!;
  const { burst, requestsPerSecond, openTasks } = DEFAULT_USER_LIMITS;
  const rateRefusal = new TooManyRequestsError(
    `more than ${burst} requests at once or ${requestsPerSecond} a second on average; try again in 1 s`,
    1,
  );
  return {
    ...publicResponses,
    BadTaskRequest: errorResponse(
      'The request is malformed, or its args fail the task\'s schema (`message` names up to three faults, each field and its rule); ' +
        '`unknown_task` when no task has that name (`message` lists the known ones). ' +
        `Also \`invalid_request\` for a \`callbackUrl\` (the task's own, or your default) that is refused: ${CALLBACK_REFUSALS}; ` +
        '`message` says why.',
      [badRequest, unknownTask],
      RATE_LIMIT,
    ),
    BadListRequest: errorResponse(
      'A query parameter is malformed, unknown or given twice, or `cursor` was altered or given to another user: `message` ' +
        'names the fault; `unknown_task` when `name` is no task type (`message` lists the known ones).',
      [new InvalidRequestError(`query.limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`), unknownTask],
      RATE_LIMIT,
    ),
    BadBatchRequest: errorResponse(
      `The body is malformed or not \`{"tasks": [...]}\` with 1 to ${MAX_BATCH_TASKS} items, it holds more tasks than your ` +
        'open-task limit (split it), or the request has a query (a batch never waits): `message` says which. An item\'s ' +
        'own fault refuses only that item, in the 200.',
      [new InvalidRequestError(`a batch holds at most ${MAX_BATCH_TASKS} tasks (got ${MAX_BATCH_TASKS + 1}); split it`)],
      RATE_LIMIT,
    ),
    BadTaskId: errorResponse(
      '`id` is not a task id (`task_` and a UUID v4: paste the `id` of a `POST /tasks` answer); on `GET /tasks/{id}`, also a ' +
        '`wait` that is not a number of seconds in range. `message` says which.',
      [new InvalidRequestError('"1" is not a task id; task ids look like task_<uuid>')],
      RATE_LIMIT,
    ),
    Unauthorized: errorResponse(
      'No bearer token, or a bad, expired or oversized (over 4 KiB) one: get one from `POST /auth/token` (on this page: ' +
        'Authorize).',
      [new UnauthorizedError('a bearer token is required; get one from POST /auth/token')],
      ['WWW-Authenticate'],
    ),
    TaskNotFound: errorResponse(
      'No such task: unknown, expired or another user\'s (all answer alike).',
      [new TaskNotFoundError(UNKNOWN_TASK_ID)],
      RATE_LIMIT,
    ),
    RequestInProgress: errorResponse(
      'The first request with this `Idempotency-Key` has not recorded its task yet: try again after `Retry-After`.',
      [new RequestInProgressError('a request with this Idempotency-Key is still being processed; retry shortly')],
      ['Retry-After', ...RATE_LIMIT],
    ),
    CancelConflict: errorResponse(
      '`task_ended`: the task has already ended (SUCCESS or FAILURE) and cannot be cancelled; `state` says which. ' +
        '`request_in_progress`: its state kept changing while it was being cancelled; try again after `Retry-After`.',
      [
        new TaskEndedError(ENDED_TASK_ID, 'SUCCESS'),
        new RequestInProgressError('the task changed state while it was being cancelled; try again'),
      ],
      ['Retry-After', ...RATE_LIMIT],
    ),
    BatchTooLarge: errorResponse(
      `The body is larger than ${MAX_BATCH_BODY_BYTES} bytes: split the batch.`,
      [new PayloadTooLargeError(MAX_BATCH_BODY_BYTES)],
      RATE_LIMIT,
    ),
    IdempotencyKeyReused: errorResponse(
      'This `Idempotency-Key` was used for a different request.',
      [new IdempotencyKeyReusedError('this Idempotency-Key was already used for a different request; use a new key for a new request')],
      RATE_LIMIT,
    ),
    RateLimited: errorResponse(rateLimitText(), [rateRefusal], ['Retry-After', ...RATE_LIMIT]),
    RateOrOpenTaskLimited: errorResponse(
      `${rateLimitText()} Or, ${openTaskLimitText()}`,
      [
        rateRefusal,
        new OpenTaskLimitError(
          `you have ${openTasks} open tasks and may have at most ${openTasks} at once, so another cannot be accepted; ` +
            'wait for some to end, or cancel some (POST /tasks/{id}/cancel)',
          1,
        ),
      ],
      ['Retry-After', ...RATE_LIMIT],
    ),
    AuthenticatedPayloadTooLarge: authenticated(publicResponses.PayloadTooLarge),
    AuthenticatedUnsupportedMediaType: authenticated(publicResponses.UnsupportedMediaType),
    AuthenticatedUnavailable: authenticated(
      publicResponses.Unavailable,
      'The `RateLimit-*` headers are missing when it is the rate limit\'s own store that did not answer.',
    ),
    AuthenticatedInternal: authenticated(publicResponses.Internal),
  } as const;
}

type ErrorResponseName = keyof ReturnType<typeof errorResponses>;

/** The error `POST /tasks` answers `body` with when the catalog refuses it (`taskBody` in app.ts). */
function refusalOf(catalog: TaskCatalog, body: unknown): DoozerError | undefined {
  const prepared = catalog.prepareRequest(body);
  if (prepared.ok) return undefined;
  const { code, message } = prepared.refused;
  return code === 'unknown_task' ? new DoozerError('unknown_task', message) : new InvalidRequestError(message);
}

/** A login refused by the limit of one user name from one address, just after it locked (lib/auth/login-throttle.ts). */
function loginRefusal(): DoozerError {
  const { windowSeconds } = DEFAULT_LOGIN_LIMITS.perUserAndAddress;
  return new TooManyRequestsError(`too many failed logins for this user from this address; try again in ${windowSeconds} s`, windowSeconds);
}

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

/**
 * An error answer: the status of `examples` (all alike), and a description that ends with their
 * codes. Each example is the body the app answers that error with (`errorResponse` in app.ts); with
 * several codes they are named by code, so Swagger UI offers each in a list.
 */
function errorResponse(description: string, examples: readonly [DoozerError, ...DoozerError[]], headers: readonly HeaderName[] = []) {
  const bodies = examples.map((error) => ({
    error: { code: error.code, message: error.message, ...(error instanceof TaskEndedError && { state: error.state }) },
  }));
  return {
    status: examples[0].status,
    response: {
      description: `${description} Code: ${examples.map(({ code }) => `\`${code}\``).join(', ')}.`,
      ...(headers.length > 0 && { headers: headerRefs(headers) }),
      content: {
        'application/json': {
          schema: ref('ErrorResponse'),
          ...(bodies.length === 1
            ? { example: bodies[0] }
            : { examples: Object.fromEntries(bodies.map((body) => [body.error.code, { value: body }])) }),
        },
      },
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

/**
 * The request body Try it out fills in on `POST /tasks` (the first example): the answer it gets is
 * what the page's instructions promise (`tryItOutText`).
 */
const FIRST_TASK_EXAMPLE = { name: 'add', args: [1, 2, 3, 4, 5, 6] };

/**
 * How to call the API from the page that renders this document (Swagger UI at `/docs`), shown at its
 * top: a token first, then the task the first request body example submits. The token's life is the
 * default of DOOZER_JWT_TTL_SECONDS (lib/config.ts), which test/unit/openapi.test.ts checks.
 */
function tryItOutText(catalog: TaskCatalog): string {
  const submit = catalog.get('add')
    ? `its example body, \`${JSON.stringify(FIRST_TASK_EXAMPLE)}\`, answers 200 with \`"result": 21\``
    : 'its example body answers 200 with the task\'s result';
  return [
    '**Try it out on this page:**',
    '1. Open `POST /auth/token` (click **Try it out** if its body cannot be edited yet), put your user name and password ' +
      'in the body (locally, the user `npm start` prints: `doozer` / `doozer` unless you set another), and click **Execute**.',
    '2. Copy the `token` of the answer, without its quotes.',
    '3. Click **Authorize**, paste the token as it is (without `Bearer `, which is added for you), click **Authorize**, then **Close**.',
    `4. Open \`POST /tasks\` (**Try it out** again if need be) and click **Execute**: ${submit}. ` +
      'Paste the `id` of an answer into `GET /tasks/{id}` to look the task up again.',
    '',
    'The token lasts `expiresIn` seconds (an hour unless the deployment sets another) and is kept only in this browser tab; ' +
      'once it has expired (a 401), get another the same way.',
  ].join('\n');
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
        FIRST_TASK_EXAMPLE,
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
  const errorAnswers = errorResponses(catalog);
  /**
   * `{"400": {$ref}, "401": {$ref}, …}` for the named error answers. Two answers of one status would
   * leave only the last (as a cancel's 409 once lost `task_ended`): they must be one answer, with a
   * code each.
   */
  const errors = (...names: ErrorResponseName[]): Record<string, JsonSchema> => {
    const statuses = names.map((name) => String(errorAnswers[name].status));
    const repeated = statuses.find((status, index) => statuses.indexOf(status) !== index);
    if (repeated !== undefined) throw new Error(`two error answers for ${repeated}: ${names.join(', ')}`);
    return Object.fromEntries(names.map((name, index) => [statuses[index], { $ref: `#/components/responses/${name}` }]));
  };
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
        'Run named tasks: get the answer within seconds, or a task id to look up later.\n\n' +
        tryItOutText(catalog) +
        '\n\nOutside this page, send the token as `Authorization: Bearer <token>`. ' +
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
      { name: 'meta', description: 'Health, readiness, this document, and the web pages.' },
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
              'BadLoginRequest',
              'WrongCredentials',
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
            ...errors('BadListRequest', 'Unauthorized', 'RateLimited', 'AuthenticatedUnavailable', 'AuthenticatedInternal'),
          },
        },
        post: {
          operationId: 'submitTask',
          tags: ['tasks'],
          summary: 'Submit a task and wait for it to end',
          description:
            `Records the task, queues it, and waits (${MAX_WAIT_SECONDS} s unless \`?wait=\` or \`Prefer\` says otherwise) for it to end: ` +
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
              'BadBatchRequest',
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
              'BadTaskId',
              'Unauthorized',
              'TaskNotFound',
              'CancelConflict',
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
            ...errors('BadTaskId', 'Unauthorized', 'TaskNotFound', 'RateLimited', 'AuthenticatedUnavailable', 'AuthenticatedInternal'),
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
      // The web pages are served by the web function (handlers/web.ts), from the deployment's own
      // files, not by the API app: test/unit/openapi.test.ts holds every other path to the app's routes.
      '/': {
        get: {
          operationId: 'getWebPage',
          tags: ['meta'],
          summary: 'The web page',
          description: 'The web page to sign in, submit, and watch tasks.',
          security: [],
          responses: { 200: { description: 'An HTML page.', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
      '/docs': {
        get: {
          operationId: 'getDocs',
          tags: ['meta'],
          summary: 'This document, rendered',
          description: 'Swagger UI, served from this deployment\'s own files; renders `/openapi.json`.',
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
        taskId: parameter(
          'id',
          'path',
          TaskIdSchema,
          'The task\'s id: paste the `id` of a `POST /tasks` answer (`task_` and a UUID v4).',
        ),
        wait: parameter('wait', 'query', WaitQuerySchema),
        Prefer: parameter('Prefer', 'header', PreferHeaderSchema),
        IdempotencyKey: parameter('Idempotency-Key', 'header', IdempotencyKeySchema),
        ...webhookHeaders,
      },
      headers: HEADERS,
      responses: Object.fromEntries(Object.entries(errorAnswers).map(([name, { response }]) => [name, response])),
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
