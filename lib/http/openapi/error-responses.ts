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
} from '../../errors.ts';
import { DEFAULT_LOGIN_LIMITS } from '../../auth/login-throttle.ts';
import { DEFAULT_USER_LIMITS } from '../../limits/user-limits.ts';
import type { TaskCatalog } from '../../tasks/task-catalog.ts';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES } from '../json-limits.ts';
import { MAX_LIST_LIMIT } from '../request-params.ts';
import { type HeaderName, RATE_LIMIT, headerRefs } from './headers.ts';
import { type JsonSchema, ref } from './json-schema.ts';
import { loginLimitsText, openTaskLimitText, rateLimitText } from './limit-descriptions.ts';

/** Why a callbackUrl is refused, in words (lib/webhooks/target-policy.ts and lib/http/callback-url.ts). */
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
 * lib/http/error-handling.ts); test/unit/openapi.test.ts holds these examples to the app's real answers.
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
export function errorResponses(catalog: TaskCatalog) {
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

export type ErrorResponses = ReturnType<typeof errorResponses>;
export type ErrorResponseName = keyof ErrorResponses;

/** The error `POST /tasks` answers `body` with when the catalog refuses it (`taskBody` in lib/http/task-bodies.ts). */
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

/**
 * An error answer: the status of `examples` (all alike), and a description that ends with their
 * codes. Each example is the body the app answers that error with (`errorResponse` in
 * lib/http/error-handling.ts); with several codes they are named by code, so Swagger UI offers each
 * in a list.
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

/**
 * `{"400": {$ref}, "401": {$ref}, …}` for the named error answers of an operation. Two answers of one
 * status would leave only the last (as a cancel's 409 once lost `task_ended`): they must be one
 * answer, with a code each.
 */
export function errorResponseRefs(answers: ErrorResponses, names: readonly ErrorResponseName[]): Record<string, JsonSchema> {
  const statuses = names.map((name) => String(answers[name].status));
  const repeated = statuses.find((status, index) => statuses.indexOf(status) !== index);
  if (repeated !== undefined) throw new Error(`two error answers for ${repeated}: ${names.join(', ')}`);
  return Object.fromEntries(names.map((name, index) => [statuses[index], { $ref: `#/components/responses/${name}` }]));
}

/** The error answers as the document's `components.responses`, by name. */
export function responseComponents(answers: ErrorResponses): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(answers).map(([name, { response }]) => [name, response]));
}
