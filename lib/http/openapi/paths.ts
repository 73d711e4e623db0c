import { type TaskView, isTerminal } from '../../tasks/task.ts';
import { MAX_WAIT_SECONDS } from '../../tasks/wait-policy.ts';
import { ListQuerySchema } from '../request-params.ts';
import { type ErrorResponseName, type ErrorResponses, errorResponseRefs } from './error-responses.ts';
import { type HeaderName, RATE_LIMIT, headerRefs } from './headers.ts';
import { type JsonSchema, jsonContent, ref } from './json-schema.ts';
import { parameter } from './parameters.ts';

const BEARER = [{ bearerAuth: [] }];

/**
 * The document's `paths`: every route, its statuses and headers. test/unit/openapi.test.ts holds them
 * to what the app really serves. `schemas` are the document's `components.schemas` (for the bodies'
 * examples), `errorAnswers` its error answers (for their statuses).
 */
export function apiPaths(schemas: Record<string, JsonSchema>, errorAnswers: ErrorResponses): JsonSchema {
  const errors = (...names: ErrorResponseName[]) => errorResponseRefs(errorAnswers, names);
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
  };
}
