import { DoozerError, InvalidRequestError } from '../errors.ts';
import { batchRequestDigest } from '../tasks/idempotency.ts';
import type { TaskCatalog } from '../tasks/task-catalog.ts';
import type { BatchItem } from '../tasks/task-service.ts';
import { MAX_BATCH_TASKS, MAX_BODY_BYTES } from './json-limits.ts';
import { BatchBodySchema, bySchema, jsonBody } from './request-body.ts';

/**
 * The body parsers of the routes that submit tasks: the contract of every task, applied here once,
 * so the handlers and the service get the prepared task.
 */
export function taskBodyParsers(catalog: TaskCatalog) {
  // `POST /tasks`: one task, refused whole.
  const taskBody = jsonBody((value) => {
    const prepared = catalog.prepareRequest(value);
    if (prepared.ok) return prepared.task;
    const { code, message } = prepared.refused;
    throw code === 'unknown_task' ? new DoozerError('unknown_task', message) : new InvalidRequestError(message);
  });

  // A batch: its own shape here, each item by the same contract as POST /tasks, refused on its own.
  const batchBody = jsonBody((value) => {
    const count = (value as { tasks?: unknown } | null)?.tasks;
    if (Array.isArray(count) && count.length > MAX_BATCH_TASKS) {
      throw new InvalidRequestError(`a batch holds at most ${MAX_BATCH_TASKS} tasks (got ${count.length}); split it`);
    }
    const { tasks } = bySchema(BatchBodySchema)(value);
    const items = tasks.map((item): BatchItem => {
      // Each item within the limit of a single request: a batch carries no bigger task than POST /tasks.
      const bytes = Buffer.byteLength(JSON.stringify(item));
      if (bytes > MAX_BODY_BYTES) {
        return { ok: false, error: { code: 'invalid_request', message: `this task is ${bytes} bytes of JSON; a task is at most ${MAX_BODY_BYTES}` } };
      }
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        return { ok: false, error: { code: 'invalid_request', message: 'each task must be a JSON object: {"name": <task>, "args": <its args>}' } };
      }
      const prepared = catalog.prepareRequest(item);
      if (prepared.ok) return { ok: true, task: prepared.task };
      const { code, message } = prepared.refused;
      return { ok: false, error: { code: code === 'unknown_task' ? code : 'invalid_request', message } };
    });
    return { items, digest: batchRequestDigest(value) };
  });

  return { taskBody, batchBody };
}
