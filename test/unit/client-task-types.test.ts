import * as z from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { describeSchema, fieldLines, formatTaskTypes } from '../../client/src/task-types.ts';
import type { TaskType } from '../../client/src/types.ts';
import { taskTypes, wireJsonSchema } from '../../lib/http/task-types.ts';
import { catalog } from '../support/catalog.ts';

/** A zod schema as `GET /task-types` sends it. */
const wire = (schema: z.ZodMiniType) => wireJsonSchema(schema);

describe('doozer tasks, over the built-in tasks as GET /task-types lists them', () => {
  const types = taskTypes(catalog) as TaskType[];
  const text = formatTaskTypes(types);
  /** The lines of one task's block: from its name to the blank line after it. */
  const block = (name: string) => {
    const start = text.findIndex((line) => line.startsWith(`${name} — `));
    return text.slice(start, text.indexOf('', start));
  };

  it('lists every task type, its limits, its description, and how to run one', () => {
    for (const type of types) {
      const lines = block(type.name);
      expect(lines[0]).toBe(`${type.name} — time limit ${type.timeoutSeconds} s, no retries`);
      const description = lines.filter((line) => /^  [^ ]/.test(line) && !/^  (args|result):/.test(line));
      expect(description.map((line) => line.trim()).join(' ')).toBe(type.description.replace(/\s+/g, ' '));
      expect(lines.every((line) => line.length <= 100)).toBe(true);
    }
    expect(text.at(-1)).toBe(`Run one with: doozer run <task> '<args as JSON>', or doozer run <task> --arg key=value ...`);
  });

  it('describes the args and results of add and mul in a line each', () => {
    for (const name of ['add', 'mul']) {
      expect(block(name).slice(-2)).toEqual([
        '  args:   array of 1..1000 integers (number or decimal string)',
        '  result: integer (number or decimal string)',
      ]);
    }
  });

  it('lists the fields of object args and results, one a line', () => {
    expect(block('sleep').slice(-4)).toEqual(['  args:', '    ms: integer, 0..120000', '  result:', '    slept: integer — Milliseconds slept.']);
    expect(block('primes').slice(-5)).toEqual(['  args:', '    below: integer, 2..2000000000', '  result:', '    below: integer', '    count: integer']);
  });
});

describe('describeSchema', () => {
  it.each<[string, z.ZodMiniType, string]>([
    ['an integer of the safe range', z.int(), 'integer'],
    ['a bounded integer', z.int().check(z.minimum(0), z.maximum(10)), 'integer, 0..10'],
    ['an integer with a floor', z.int().check(z.minimum(1)), 'integer, at least 1'],
    ['a number with exclusive bounds', z.number().check(z.gt(0), z.lt(1)), 'number, more than 0, less than 1'],
    ['a string', z.string(), 'string'],
    ['a bounded string', z.string().check(z.minLength(1), z.maxLength(64)), 'string, 1..64 characters'],
    ['a string with a pattern', z.string().check(z.regex(/^[a-z]+$/)), 'string, matching /^[a-z]+$/'],
    ['a date-time, by its format only', z.iso.datetime(), 'string, date-time'],
    ['a boolean', z.boolean(), 'boolean'],
    ['an enum', z.enum(['fast', 'slow']), 'one of "fast", "slow"'],
    ['a literal', z.literal('go'), '"go"'],
    ['a nullable string', z.nullable(z.string()), 'string or null'],
    ['a union', z.union([z.string(), z.int()]), 'string or integer'],
    ['an array without bounds', z.array(z.string()), 'array of strings'],
    ['an array with a floor', z.array(z.int()).check(z.minLength(2)), 'array of integers, at least 2 items'],
    ['an array of a fixed length', z.array(z.boolean()).check(z.length(3)), 'array of 3 booleans'],
    ['an array of bounded integers', z.array(z.int().check(z.minimum(0), z.maximum(9))), 'array of integers, 0..9'],
    ['an array of objects', z.array(z.strictObject({ a: z.int() })), 'array of objects { a: integer }'],
    ['an array of a union', z.array(z.union([z.string(), z.null()])), 'array of (string or null)'],
    ['an array of arrays', z.array(z.array(z.int())), 'array of arrays of integers'],
    ['a tuple', z.tuple([z.string(), z.int()]), '[string, integer]'],
    ['a nested object', z.strictObject({ a: z.int(), b: z.optional(z.strictObject({ c: z.string() })) }), '{ a: integer; b?: { c: string } }'],
    ['an empty object', z.strictObject({}), '{}'],
    ['a record', z.record(z.string(), z.int()), '{ any key: integer }'],
    ['a default', z._default(z.int(), 5), 'integer, default 5'],
    ['anything', z.unknown(), 'any JSON'],
  ])('%s', (_case, schema, text) => {
    expect(describeSchema(wire(schema))).toBe(text);
  });

  it('follows local references, and stops in a recursive schema', () => {
    const schema = { $defs: { Leaf: { type: 'integer' } }, type: 'array', items: { $ref: '#/$defs/Leaf' } };
    expect(describeSchema(schema)).toBe('array of integers');
    const loop = { $defs: { Node: { type: 'object', properties: { next: { $ref: '#/$defs/Node' } } } }, $ref: '#/$defs/Node' };
    expect(describeSchema(loop)).toMatch(/^\{ next\?: \{ next\?: .*…/);
    expect(describeSchema({ $ref: 'https://example.com/schema' })).toBe('any JSON');
  });

  it('reads schemas that are not objects, or have no type', () => {
    expect(describeSchema(true)).toBe('any JSON');
    expect(describeSchema(false)).toBe('nothing');
    expect(describeSchema({})).toBe('any JSON');
    expect(describeSchema({ type: ['string', 'integer'], minimum: 1 })).toBe('string or integer, at least 1');
    expect(describeSchema({ properties: { a: { type: 'string' } }, required: ['a'] })).toBe('{ a: string }');
  });
});

describe('fieldLines', () => {
  it('gives a field a line, marking optional ones and adding descriptions', () => {
    const schema = z.strictObject({
      ms: z.int().check(z.minimum(0), z.maximum(120_000), z.meta({ description: 'How long.' })),
      label: z.optional(z.string()),
    });
    expect(fieldLines(wire(schema))).toEqual(['ms: integer, 0..120000 — How long.', 'label: string, optional']);
  });

  it('says what else an object takes, and that an empty one is sent as {}', () => {
    expect(fieldLines(wire(z.looseObject({ a: z.int() })))).toEqual(['a: integer', 'other keys: any JSON']);
    expect(fieldLines(wire(z.strictObject({})))).toEqual(['(no fields: send {})']);
  });

  it('gives undefined for schemas that are not objects with fields', () => {
    expect(fieldLines(wire(z.array(z.int())))).toBeUndefined();
    expect(fieldLines(wire(z.record(z.string(), z.int())))).toBeUndefined();
  });
});
