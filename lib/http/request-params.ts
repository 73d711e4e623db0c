import type { Context } from 'hono';
import * as z from 'zod/mini';
import { InvalidRequestError } from '../errors.ts';
import { TASK_ID_PATTERN } from '../tasks/task.ts';

/** A task id: `task_` and a lower-case UUID v4, the pattern `isTaskId` in lib/tasks/task.ts applies. */
export const TaskIdSchema = z.string().check(
  z.regex(TASK_ID_PATTERN),
  z.meta({
    description: 'A task id, as `POST /tasks` returned it: `task_` and a UUID v4.',
    examples: ['task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006'],
  }),
);

const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * The `Idempotency-Key` header of `POST /tasks`: 1 to 255 printable ASCII characters (space to
 * tilde). Checked here only: the service receives keys this has accepted.
 */
export const IdempotencyKeySchema = z.string().check(
  z.minLength(1),
  z.maxLength(MAX_IDEMPOTENCY_KEY_LENGTH),
  z.regex(/^[\x20-\x7e]*$/),
  z.meta({
    description:
      `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters. The same key from the same user within 24 h ` +
      '(never longer than the task lives) stands for one task, created and queued once: a repeat with the same task ' +
      'and args answers with that task (200 or 202, `Idempotent-Replayed: true`); with another body it is a 422 ' +
      '`idempotency_key_reused`; while the first request has not recorded its task, a 409 `request_in_progress`. ' +
      'A request that fails with 503 frees its key.',
    examples: ['2f1c9a0e-order-42'],
  }),
);

/** The `{id}` of `GET /tasks/{id}`; a 400 when it cannot be a task id. */
export function readTaskId(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (!TaskIdSchema.safeParse(id).success) {
    throw new InvalidRequestError(`${JSON.stringify(id)} is not a task id; task ids look like task_<uuid>`);
  }
  return id;
}

/** The `Idempotency-Key` header, or undefined without one; a 400 when it is malformed. */
export function readIdempotencyKey(c: Context): string | undefined {
  const key = c.req.header('idempotency-key');
  if (key !== undefined && !IdempotencyKeySchema.safeParse(key).success) {
    const got = key.length > MAX_IDEMPOTENCY_KEY_LENGTH ? ` (got ${key.length})` : '';
    throw new InvalidRequestError(`the Idempotency-Key header must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters${got}`);
  }
  return key;
}
