import * as z from 'zod/mini';
import type { TaskCatalog } from '../tasks/task-catalog.ts';

type JsonSchema = Record<string, unknown>;

/** One task type as `GET /task-types` lists it. */
export interface TaskTypeView {
  name: string;
  description: string;
  timeoutSeconds: number;
  retries: number;
  /** JSON Schema (2020-12) of `args` on the wire. */
  args: JsonSchema;
  /** JSON Schema of `result` on the wire; absent when the task declares none (any JSON). */
  result?: JsonSchema;
}

/**
 * A task schema's wire form as JSON Schema: its input side (a codec's output, such as the bigints
 * of add, is what `run` sees and never travels), without the keywords only a root document carries.
 */
export function wireJsonSchema(schema: z.ZodMiniType): JsonSchema {
  const { $schema: _schema, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

export function taskTypes(catalog: TaskCatalog): TaskTypeView[] {
  return catalog.definitions.map((task) => ({
    name: task.name,
    description: task.description,
    timeoutSeconds: task.timeoutSeconds,
    retries: task.retries,
    args: wireJsonSchema(task.args),
    ...(task.result && { result: wireJsonSchema(task.result) }),
  }));
}

const cached = new WeakMap<TaskCatalog, string>();

/** The body of `GET /task-types`, built once per catalog. */
export function taskTypesJson(catalog: TaskCatalog): string {
  let json = cached.get(catalog);
  if (json === undefined) {
    json = JSON.stringify({ taskTypes: taskTypes(catalog) });
    cached.set(catalog, json);
  }
  return json;
}
