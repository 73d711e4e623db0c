import * as z from 'zod/mini';

/**
 * The JSON Schema pieces of the API document. Every schema in it is generated (`z.toJSONSchema`,
 * JSON Schema 2020-12, which OpenAPI 3.1 uses as is) from the zod schemas that validate requests and
 * describe answers.
 */

export type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

/** A reference to a schema of `components.schemas`. */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A schema as a standalone JSON Schema, without the keywords that only a root document carries. */
export function jsonSchema(schema: z.ZodMiniType, io: Io): JsonSchema {
  return withoutRootKeywords(z.toJSONSchema(schema, { io }) as JsonSchema);
}

/** Named schemas that refer to each other by `$ref`, as OpenAPI components. */
export function componentSchemas(named: Record<string, z.ZodMiniType>, io: Io): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutRootKeywords(schema as JsonSchema)]));
}

/** `$schema` and `$id` (zod sets `$id` to the ref URI, whose fragment 2020-12 forbids in `$id`). */
function withoutRootKeywords({ $schema: _schema, $id: _id, ...rest }: JsonSchema): JsonSchema {
  return rest;
}

/** A JSON request or response body, its examples taken from the schema's (those that `fits`). */
export function jsonContent(name: string, schemas: Record<string, JsonSchema>, fits: (example: unknown) => boolean = () => true): JsonSchema {
  const examples = schemas[name]?.examples;
  const fitting = Array.isArray(examples) ? examples.filter(fits) : [];
  return {
    'application/json': {
      schema: ref(name),
      ...(fitting.length > 0 && {
        examples: Object.fromEntries(fitting.map((value, index) => [`example${index + 1}`, { value }])),
      }),
    },
  };
}
