import * as z from 'zod/mini';
import type { IssuedToken } from '../auth/tokens.ts';
import { DEFAULT_STATUS, type ErrorCode, type TaskErrorCode } from '../errors.ts';
import { TASK_NAMES } from '../tasks/registry.ts';
import { TASK_STATES, type TaskView } from '../tasks/task.ts';
import { TaskIdSchema } from './request-params.ts';

/**
 * What the API answers, as schemas for the API document (lib/http/openapi.ts). The app builds its
 * answers from the types named below; the assertions at the end of this file make the compiler
 * refuse a schema that no longer matches its type, and test/unit/openapi.test.ts checks real answers
 * against the document.
 */

/** `GET /health`. */
export const HealthSchema = z.strictObject({ status: z.literal('ok') });

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

/** An exact integer on the way out: a JSON number when it is a safe integer, else a decimal string. */
export const ExactIntegerSchema = z.union([z.int(), z.string().check(z.regex(/^-?\d+$/))]).check(
  z.meta({
    description: `An exact integer: a JSON number when within ±${Number.MAX_SAFE_INTEGER}, else a decimal string.`,
    examples: [21, '246913578024691357802469135780'],
  }),
);

/** Every TaskErrorCode; the compiler refuses this list when one is missing or unknown. */
const TASK_FAILURE_CODES = Object.keys({
  invalid_args: true,
  unknown_task: true,
  result_too_large: true,
  enqueue_failed: true,
  retries_exhausted: true,
} satisfies Record<TaskErrorCode, true>);

export const TaskFailureSchema = z.strictObject({
  code: z.string().check(
    z.meta({ description: `Why the task failed, a stable code: ${TASK_FAILURE_CODES.map((code) => `\`${code}\``).join(', ')}.` }),
  ),
  message: z.string(),
});

const timestamp = (description: string) => z.iso.datetime().check(z.meta({ description }));

/** A task as the API shows it (`toTaskView` in lib/tasks/task.ts). */
export const TaskViewSchema = z
  .strictObject({
    id: TaskIdSchema,
    name: z.enum(TASK_NAMES),
    args: z.array(ExactIntegerSchema),
    state: z.enum(TASK_STATES).check(
      z.meta({
        description:
          'PENDING until a worker ends the task; RETRY after an attempt failed on infrastructure (the queue delivers it ' +
          'again); SUCCESS (with `result`) or FAILURE (with `error`), which are final.',
      }),
    ),
    result: z.optional(ExactIntegerSchema),
    error: z.optional(TaskFailureSchema),
    createdAt: timestamp('When the task was submitted.'),
    updatedAt: timestamp('When its state last changed.'),
    expiresAt: timestamp('When it is deleted (7 days after submission by default); after that it is not found.'),
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
  }),
});

/** True when A and B are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ResponseSchemasMatchTypes = [
  Assert<Same<z.output<typeof TaskViewSchema>, TaskView>>,
  Assert<Same<z.output<typeof TokenResponseSchema>, IssuedToken>>,
  Assert<Same<z.output<typeof ErrorResponseSchema>['error']['code'], ErrorCode>>,
];
