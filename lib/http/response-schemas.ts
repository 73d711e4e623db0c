import * as z from 'zod/mini';
import type { IssuedToken } from '../auth/tokens.ts';
import { DEFAULT_STATUS, type ErrorCode, TASK_FAILURE_CODES } from '../errors.ts';
import { TASK_ID_PATTERN, TASK_STATES, type TaskProgress, type WebhookDeliveryView } from '../tasks/task.ts';
import { TaskIdSchema } from './request-params.ts';

/**
 * What the API answers, as schemas for the API document (lib/http/openapi/). The app builds its
 * answers from the types named below; the assertions at the end of this file make the compiler
 * refuse a schema that no longer matches its type, and test/unit/openapi.test.ts checks real answers
 * against the document.
 */

/** `GET /health`. */
export const HealthSchema = z.strictObject({ status: z.literal('ok') });

/** `GET /task-types` (lib/http/task-types.ts); each task's schemas are JSON Schema 2020-12. */
export const TaskTypesSchema = z.strictObject({
  taskTypes: z.array(
    z.strictObject({
      name: z.string(),
      description: z.string(),
      timeoutSeconds: z.int().check(z.positive(), z.meta({ description: 'Past it the task ends FAILURE `timeout`.' })),
      retries: z.int().check(z.gte(0), z.meta({ description: 'Further attempts after the task throws an unexpected error.' })),
      args: z.record(z.string(), z.unknown()).check(z.meta({ description: 'JSON Schema of `args`.' })),
      result: z.optional(z.record(z.string(), z.unknown()).check(z.meta({ description: 'JSON Schema of `result`; absent: any JSON.' }))),
    }),
  ),
});

/** `GET /ready` when the store and the queue both answer. */
export const ReadySchema = z.strictObject({ status: z.literal('ready') });

/** `POST /auth/token`. */
export const TokenResponseSchema = z
  .strictObject({
    token: z.string().check(z.meta({ description: 'A JWT (HS256); send it as `Authorization: Bearer <token>`.' })),
    tokenType: z.literal('Bearer'),
    expiresIn: z.int().check(z.positive(), z.meta({ description: 'Seconds until the token expires.' })),
  })
  .check(z.meta({ examples: [{ token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…', tokenType: 'Bearer', expiresIn: 3600 }] }));

const failureCodes = Object.entries(TASK_FAILURE_CODES)
  .map(([code, meaning]) => `\`${code}\` (${meaning})`)
  .join(', ');

export const TaskFailureSchema = z.strictObject({
  code: z.string().check(
    z.meta({ description: `Why the task failed, a stable code: ${failureCodes}; or a code of the task's own (its TaskError).` }),
  ),
  message: z.string(),
});

const timestamp = (description: string) => z.iso.datetime().check(z.meta({ description }));

/** How far a running task is (`ctx.progress` in its `run`). */
export const TaskProgressSchema = z
  .strictObject({
    fraction: z.number().check(z.gte(0), z.lte(1), z.meta({ description: 'How far, from 0 to 1.' })),
    done: z.optional(z.number().check(z.meta({ description: 'Steps done, when the task counts them.' }))),
    total: z.optional(z.number().check(z.meta({ description: 'Steps in all, when the task counts them.' }))),
    message: z.optional(z.string().check(z.maxLength(200))),
    at: z.iso.datetime().check(z.meta({ description: 'When the task reported it.' })),
  })
  .check(
    z.meta({
      description:
        'The last progress the task reported, stored at most about once a second while it runs; complete once it succeeded.',
    }),
  );

/** A completion webhook's id: `msg_` and the task id's UUID (`webhookIdOf` in lib/tasks/task.ts). */
export const WebhookIdSchema = z.string().check(
  z.regex(new RegExp(TASK_ID_PATTERN.source.replace('^task_', '^msg_'))),
  z.meta({
    description:
      'The `webhook-id` header of every attempt of this delivery (`msg_` and the task id\'s UUID): one task ends once, ' +
      'so a receiver that sees an id again has seen the delivery before.',
  }),
);

/** How a task's completion webhook went, as the notifier recorded it (`WebhookDeliveryView`). */
export const WebhookDeliverySchema = z
  .strictObject({
    id: WebhookIdSchema,
    state: z.enum(['pending', 'delivered', 'failed']).check(
      z.meta({
        description:
          '`pending` until an attempt is answered 2xx (`delivered`), or the delivery is given up (`failed`): at once on any ' +
          'other answer than a 2xx, a 429 or a 5xx (a 4xx, a redirect) or on a refused address, else after its last retry.',
      }),
    ),
    attempts: z.int().check(z.gte(0), z.meta({ description: 'Attempts made so far; 0 before the first.' })),
    lastStatus: z.optional(z.int().check(z.meta({ description: 'The HTTP status the last attempt was answered with.' }))),
    lastError: z.optional(
      z.string().check(z.meta({ description: 'Why the last attempt got no answer: a timeout, a failed connection, a refused address.' })),
    ),
    lastAttemptAt: z.optional(timestamp('When the last attempt was made.')),
    nextAttemptAt: z.optional(timestamp('When the next attempt is due, while a failed one is retried.')),
  })
  .check(
    z.meta({
      description:
        'The completion webhook: present once the task has ended, when it has a `callbackUrl`. See the `taskEnded` webhook.',
    }),
  );

/**
 * A task as the API shows it (`toTaskView` in lib/tasks/task.ts), any task type: the API document
 * narrows `args` and `result` for each task from its schemas (lib/http/openapi/schemas.ts).
 */
export const TaskViewSchema = z
  .strictObject({
    id: TaskIdSchema,
    name: z.string().check(z.meta({ description: 'The task type (`GET /task-types`).' })),
    args: z.unknown().check(z.meta({ description: 'The args as the task type\'s schema reads them, in canonical form.' })),
    state: z.enum(TASK_STATES).check(
      z.meta({
        description:
          'SCHEDULED while a task to run more than 15 minutes ahead waits for its time; PENDING once queued, until a ' +
          'worker ends the task; RETRY after an attempt failed on infrastructure (the queue delivers it again); ' +
          'SUCCESS (with `result`), FAILURE (with `error`) or CANCELLED (by its owner), which are final.',
      }),
    ),
    result: z.optional(z.unknown().check(z.meta({ description: 'Present when the task succeeded: what its type\'s result schema describes.' }))),
    error: z.optional(TaskFailureSchema),
    progress: z.optional(TaskProgressSchema),
    runAt: z.optional(timestamp('When the task is to run: it was submitted with `runAt` or `delaySeconds`.')),
    callbackUrl: z.optional(
      z.string().check(
        z.meta({
          description:
            'Where the task is POSTed when it ends (the `taskEnded` webhook): the `callbackUrl` it was submitted with, ' +
            'or its owner\'s default when it named none.',
        }),
      ),
    ),
    webhook: z.optional(WebhookDeliverySchema),
    createdAt: timestamp('When the task was submitted.'),
    updatedAt: timestamp('When its state last changed.'),
    expiresAt: timestamp(
      'When it is deleted (7 days after submission, or after its `runAt`, by default); after that it is not found.',
    ),
  })
  .check(
    z.meta({
      examples: [
        {
          id: 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006',
          name: 'add',
          args: [1, 2, 3, 4, 5, 6],
          state: 'SUCCESS',
          result: 21,
          createdAt: '2025-01-01T12:00:00.000Z',
          updatedAt: '2025-01-01T12:00:00.016Z',
          expiresAt: '2025-01-08T12:00:00.000Z',
        },
        {
          id: 'task_0c5e6a52-3f7b-4d1e-9a40-5b8f2e7d9c13',
          name: 'mul',
          args: ['123456789012345678901234567890', 2],
          state: 'PENDING',
          createdAt: '2025-01-01T12:00:00.000Z',
          updatedAt: '2025-01-01T12:00:00.000Z',
          expiresAt: '2025-01-08T12:00:00.000Z',
        },
        {
          id: 'task_7a3d2c41-9e5b-4f60-8b1a-2c4d6e8f0a13',
          name: 'add',
          args: [2, 3],
          state: 'SUCCESS',
          result: 5,
          callbackUrl: 'https://example.com/webhooks/doozer',
          webhook: {
            id: 'msg_7a3d2c41-9e5b-4f60-8b1a-2c4d6e8f0a13',
            state: 'delivered',
            attempts: 1,
            lastStatus: 204,
            lastAttemptAt: '2025-01-01T12:00:00.214Z',
          },
          createdAt: '2025-01-01T12:00:00.000Z',
          updatedAt: '2025-01-01T12:00:00.016Z',
          expiresAt: '2025-01-08T12:00:00.000Z',
        },
      ],
    }),
  );

/** Every error code, taken from lib/errors.ts (its status table has one entry per code). */
export const ERROR_CODES = Object.keys(DEFAULT_STATUS) as [ErrorCode, ...ErrorCode[]];

/** The one error shape. */
export const ErrorResponseSchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(ERROR_CODES).check(z.meta({ description: 'A stable code: branch on it, never on the message.' })),
    message: z.string().check(
      z.minLength(1),
      z.meta({ description: 'What went wrong, for people. At 500 and above it is generic; the detail is logged.' }),
    ),
    state: z.optional(
      z.enum(TASK_STATES).check(z.meta({ description: 'With `task_ended` only: the state the task ended in.' })),
    ),
  }),
});

/** Why one item of a batch was not accepted: a fault of its own, or an outage (submit it again). */
export const BatchItemErrorSchema = z.strictObject({
  code: z.enum(['invalid_request', 'unknown_task', 'unavailable']).check(
    z.meta({
      description:
        '`invalid_request` or `unknown_task`: the item is refused as `POST /tasks` would refuse it; ' +
        '`unavailable`: it could not be recorded or queued and never runs; submit it again.',
    }),
  ),
  message: z.string().check(z.minLength(1)),
});

/** True when A and B are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ResponseSchemasMatchTypes = [
  Assert<Same<z.output<typeof TaskProgressSchema>, TaskProgress>>,
  Assert<Same<z.output<typeof WebhookDeliverySchema>, WebhookDeliveryView>>,
  Assert<Same<z.output<typeof TokenResponseSchema>, IssuedToken>>,
  Assert<Same<z.output<typeof ErrorResponseSchema>['error']['code'], ErrorCode>>,
];
