import type { Context } from 'hono';
import * as z from 'zod/mini';
import { InvalidRequestError } from '../errors.ts';
import { TASK_NAME_PATTERN } from '../tasks/define-task.ts';
import { IDEMPOTENCY_WINDOW_SECONDS } from '../tasks/idempotency.ts';
import { describeIssues } from '../tasks/schema-issues.ts';
import { TASK_ID_PATTERN, TASK_STATES } from '../tasks/task.ts';
import type { TaskListRequest } from '../tasks/task-service.ts';

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
 * tilde). Checked here only: the service receives keys this has accepted. Its example value is in
 * the description, not in `examples`: the API document's Try it out would send it, and every user of
 * a deployment that shares a login (the local one) would replay the same task.
 */
export const IdempotencyKeySchema = z.string().check(
  z.minLength(1),
  z.maxLength(MAX_IDEMPOTENCY_KEY_LENGTH),
  z.regex(/^[\x20-\x7e]*$/),
  z.meta({
    description:
      `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters. The same key from the same user within ` +
      `${IDEMPOTENCY_WINDOW_SECONDS / 3600} h (never longer than the task lives) stands for one task (on \`POST /tasks/batch\`, ` +
      'one batch), created and queued once: a repeat with the same body answers with the same task or tasks, ' +
      'with `Idempotent-Replayed: true`; with another body it is a 422 ' +
      '`idempotency_key_reused`; while the first request has not recorded its task, a 409 `request_in_progress`. ' +
      'A request that fails with 503 frees its key. Leave it out for a request you will not repeat; for one you may ' +
      '(a retry after a lost answer), make up a key of your own, such as a UUID or `2f1c9a0e-order-42`, and send it with every try.',
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

/** The most tasks one page of `GET /tasks` holds, and how many it holds without `limit`. */
export const MAX_LIST_LIMIT = 100;
export const DEFAULT_LIST_LIMIT = 20;

/** The query of `GET /tasks`. Unknown parameters are refused: a misspelt filter must not list everything. */
export const ListQuerySchema = z.strictObject({
  state: z.optional(z.enum(TASK_STATES).check(z.meta({ description: 'Only tasks in this state.' }))),
  name: z.optional(
    z.string().check(
      z.regex(TASK_NAME_PATTERN, 'must be a task name: lower-case letters, digits and dashes, starting with a letter'),
      z.meta({ description: 'Only tasks of this type (`GET /task-types`).' }),
    ),
  ),
  limit: z.optional(
    z.coerce.number({ error: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` }).check(
      z.int(),
      z.gte(1),
      z.lte(MAX_LIST_LIMIT),
      z.meta({ description: `Tasks per page, 1 to ${MAX_LIST_LIMIT} (default ${DEFAULT_LIST_LIMIT}).` }),
    ),
  ),
  cursor: z.optional(
    z.string().check(
      z.minLength(1),
      z.maxLength(1024),
      z.meta({ description: 'The `next` of the page before: the following page starts after it. Opaque; bound to the user it was given to.' }),
    ),
  ),
});

/** `GET /tasks`'s filters and page; a 400 naming each bad parameter. */
export function readListQuery(c: Context): TaskListRequest {
  const given = c.req.queries();
  const repeated = Object.entries(given).find(([, values]) => values.length > 1);
  if (repeated) throw new InvalidRequestError(`the query parameter ${repeated[0]} is given more than once; give it once`);
  const query = Object.fromEntries(Object.entries(given).map(([key, values]) => [key, values[0]]));
  const parsed = ListQuerySchema.safeParse(query, { reportInput: true });
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error.issues, 'query'));
  const { state, name, limit, cursor } = parsed.data;
  return { limit: limit ?? DEFAULT_LIST_LIMIT, ...(state && { state }), ...(name && { name }), ...(cursor && { cursor }) };
}
