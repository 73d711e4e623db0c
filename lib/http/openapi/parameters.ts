import type * as z from 'zod/mini';
import { IdempotencyKeySchema, TaskIdSchema } from '../request-params.ts';
import { PreferHeaderSchema, WaitQuerySchema } from '../wait-preference.ts';
import { type JsonSchema, jsonSchema } from './json-schema.ts';

/**
 * A parameter whose description comes from its schema, or from `description` where this operation
 * needs other words. Never with an example, its schema's included: Swagger UI's Try it out fills a
 * parameter in with its example (or its schema's `example` or `default`) and sends it, and each of
 * these would change what the request does: a shared Idempotency-Key replays another caller's task,
 * `wait=0` answers 202 rather than waiting, an example task id is always a 404. Values to try are
 * written in the descriptions instead.
 */
export function parameter(name: string, where: 'query' | 'header' | 'path', schema: z.ZodMiniType, description?: string): JsonSchema {
  const { description: described, examples: _examples, example: _example, default: _default, ...rest } = jsonSchema(schema, 'input');
  return { name, in: where, required: where === 'path', description: description ?? described, schema: rest };
}

/** The parameters that several task routes take, as components (`#/components/parameters/<name>`). */
export function sharedParameters(): Record<string, JsonSchema> {
  return {
    taskId: parameter(
      'id',
      'path',
      TaskIdSchema,
      'The task\'s id: paste the `id` of a `POST /tasks` answer (`task_` and a UUID v4).',
    ),
    wait: parameter('wait', 'query', WaitQuerySchema),
    Prefer: parameter('Prefer', 'header', PreferHeaderSchema),
    IdempotencyKey: parameter('Idempotency-Key', 'header', IdempotencyKeySchema),
  };
}
