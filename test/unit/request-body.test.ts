import fc from 'fast-check';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { DoozerError } from '../../lib/errors.ts';
import { MAX_NESTING, findDuplicateKey } from '../../lib/http/json-limits.ts';
import { jsonBody } from '../../lib/http/request-body.ts';

/** The duplicate key of a body that JSON.parse accepts, as readJson calls the scanner. */
const duplicateIn = (text: string) => findDuplicateKey(text, JSON.parse(text));

describe('findDuplicateKey', () => {
  it.each([
    ['the usual task request', '{"name":"add","args":[1,"2",3]}'],
    ['an empty object', '{}'],
    ['a bare value', '42'],
    ['a string with colons', '"a:b:c"'],
    ['one key in sibling objects', '[{"a":1},{"a":2}]'],
    ['one key at two depths', '{"a":{"a":{"a":1}}}'],
    ['keys and values with colons and commas', '{"a:b":"c:d,e","f":"{\\"a\\":1,\\"a\\":2}"}'],
    ['a duplicate spelled inside a string value', '{"a":"\\"a\\":1,\\"a\\":2"}'],
    ['keys that differ only by case', '{"Name":1,"name":2}'],
    ['two different lone surrogates', '{"\\ud800":1,"\\udc00":2}'],
    ['a key ending in an escaped backslash, then a similar key', '{"a\\\\":1,"a":2,"x":":"}'],
    ['JSON whitespace everywhere', ' { "a" : 1 ,\n\t"b" : [ { "a" : 2 } , "a" ] ,\r\n"c":":" } '],
  ])('finds none in %s', (_label, text) => {
    expect(duplicateIn(text)).toBeUndefined();
  });

  it.each([
    ['a repeated top-level field', '{"name":"add","name":"mul","args":[1]}', 'name'],
    ['a repeat after a nested object', '{"a":{"b":1,"c":[1,{"d":2}]},"a":2}', 'a'],
    ['a repeat inside an array element', '{"args":[{"x":1},{"x":1,"x":2}]}', 'x'],
    ['a key spelled with a \\u escape', '{"a":1,"\\u0061":2}', 'a'],
    ['a repeated empty key', '{"":1,"":2}', ''],
    ['a key with an escaped quote', '{"a\\"b":1,"a\\"b":2}', 'a"b'],
    ['a key ending in an escaped backslash', '{"a\\\\":1,"a\\\\":2}', 'a\\'],
    ['a repeated __proto__', '{"__proto__":{},"__proto__":{"polluted":true}}', '__proto__'],
    ['a repeated constructor', '{"constructor":{"prototype":{}},"constructor":1}', 'constructor'],
    ['a repeated lone surrogate', '{"\\ud800":1,"\\ud800":2}', '\ud800'],
    ['a repeat hidden among colons in strings', '{"a":"1:2:3","b":"x:y","a":3}', 'a'],
    ['a repeat with JSON whitespace', '{ "a" : 1 ,\n "a" : 2 }', 'a'],
  ])('finds %s', (_label, text, key) => {
    expect(duplicateIn(text)).toBe(key);
  });

  it('handles nesting as deep as a 64 KiB body allows without overflowing the stack', () => {
    const depth = 12_000;
    const clean = `${'{"a":'.repeat(depth)}"x:y"${'}'.repeat(depth)}`;
    expect(duplicateIn(clean)).toBeUndefined();
    const repeated = `${'{"a":'.repeat(depth)}{"k":1,"k":2}${'}'.repeat(depth)}`;
    expect(duplicateIn(repeated)).toBe('k');
    const arrays = `${'['.repeat(30_000)}{"k":":","k":2}${']'.repeat(30_000)}`;
    expect(duplicateIn(arrays)).toBe('k');
  });

  it('finds none in anything JSON.stringify writes (it never repeats a key)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(duplicateIn(JSON.stringify(value))).toBeUndefined();
        // A string of colons defeats the fast path, so the full scan sees the same value.
        expect(duplicateIn(JSON.stringify([':::', value]))).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('finds a key that is added again in front of an object', () => {
    const objectWithKey = fc
      .dictionary(fc.string({ unit: 'binary' }), fc.jsonValue(), { minKeys: 1 })
      .chain((object) => fc.tuple(fc.constant(object), fc.constantFrom(...Object.keys(object))));
    fc.assert(
      fc.property(objectWithKey, fc.jsonValue(), ([object, key], value) => {
        const text = `{${JSON.stringify(key)}:${JSON.stringify(value)},${JSON.stringify(object).slice(1)}`;
        expect(duplicateIn(text)).toBe(key);
      }),
      { numRuns: 300 },
    );
  });
});

describe('jsonBody', () => {
  const app = new Hono();
  app.post('/', jsonBody((value) => value), (c) => c.json(c.get('body') as object));
  app.onError((error, c) => {
    if (!(error instanceof DoozerError)) throw error;
    return c.json({ code: error.code, status: error.status, message: error.message }, 418);
  });
  const post = async (body: string) => {
    const response = await app.request('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return (await response.json()) as Record<string, unknown>;
  };

  it('returns a body without repeated keys', async () => {
    expect(await post('{"name":"add","args":[1,"23"]}')).toEqual({ name: 'add', args: [1, '23'] });
  });

  it('refuses a repeated key with 400 invalid_request naming the key', async () => {
    expect(await post('{"name":"add","args":[1],"name":"mul"}')).toEqual({
      code: 'invalid_request',
      status: 400,
      message: 'the body has the key "name" more than once in one object',
    });
  });

  it('refuses a repeated key nested in an argument, before the arguments are checked', async () => {
    const error = await post('{"name":"add","args":[{"x":1,"x":2}]}');
    expect(error).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(error.message).toContain('"x"');
  });

  it(`refuses a body nested more than ${MAX_NESTING} deep (JSON.stringify would overflow on it), and takes one that deep`, async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(await post(`{"args":${nested(MAX_NESTING - 1)}}`)).toEqual({ args: JSON.parse(nested(MAX_NESTING - 1)) });
    expect(await post(`{"args":${nested(30_000)}}`)).toEqual({
      code: 'invalid_request',
      status: 400,
      message: `the body nests arrays and objects more than ${MAX_NESTING} deep; flatten it`,
    });
  });

  it('cuts a long repeated key short in the message', async () => {
    const key = 'k'.repeat(5_000);
    const error = await post(`{"${key}":1,"${key}":2}`);
    expect(error).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(error.message).toBe(`the body has the key "${'k'.repeat(40)}…" more than once in one object`);
  });
});
