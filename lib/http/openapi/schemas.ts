import type { TaskCatalog } from '../../tasks/task-catalog.ts';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES } from '../json-limits.ts';
import { CredentialsSchema } from '../request-body.ts';
import { TaskIdSchema } from '../request-params.ts';
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
} from '../response-schemas.ts';
import { wireJsonSchema } from '../task-types.ts';
import { type JsonSchema, componentSchemas, ref } from './json-schema.ts';
import { taskEndedPayload } from './webhooks.ts';

/**
 * The request body Try it out fills in on `POST /tasks` (the first example): the answer it gets is
 * what the page's instructions promise (`tryItOutText` in document.ts).
 */
export const FIRST_TASK_EXAMPLE = { name: 'add', args: [1, 2, 3, 4, 5, 6] };

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
 * The document's `components.schemas`: the request bodies, the answers (generated from the zod
 * schemas of request-body.ts, request-params.ts and response-schemas.ts), the lists and batches
 * written here, and the task of each type of `catalog`.
 */
export function documentSchemas(catalog: TaskCatalog): Record<string, JsonSchema> {
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
  return { ...requests, ...responses, ...lists, Task: taskOfEachType(catalog), TaskEndedPayload: taskEndedPayload(responses) };
}
