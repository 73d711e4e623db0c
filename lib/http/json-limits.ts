/**
 * The limits of a request body, and the checks of its JSON text that JSON.parse does not make: in a
 * module of their own, with no framework, so the CLI holds a batch line to the very rules the API
 * will apply (client/src/batch.ts) without bundling the server's HTTP stack.
 */

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;
/** The most tasks one `POST /tasks/batch` holds (the limit; 4 BatchWriteItem and 10 SendMessageBatch calls). */
export const MAX_BATCH_TASKS = 100;
/**
 * The largest batch body, in bytes: room for a hundred ordinary tasks, well inside the 6 MB a
 * Lambda function's request may hold. A batch of big args is split by the client.
 */
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;

/**
 * The deepest nesting of arrays and objects a body may have. JSON.parse takes any depth a 64 KiB
 * body holds (tens of thousands), but JSON.stringify, which stores and queues args, recurses and
 * overflows the stack on such a value.
 */
export const MAX_NESTING = 64;

/**
 * How deep arrays and objects nest in `value`, counted without recursion; it stops counting once
 * past `stopAbove`, all a caller needs to know.
 */
export function nestingDepth(value: unknown, stopAbove = MAX_NESTING): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * The first key that appears twice in one object of `text`, or undefined. JSON.parse keeps the last
 * value of a repeated key without a word, so `{"name":"add","name":"mul"}` would run whatever the
 * last one says while a proxy or log that reads the first sees another request.
 *
 * `text` must be what JSON.parse accepted and `parsed` its result: the scanner trusts the grammar.
 * The fast path needs no scan: every member of an object has its own colon, so when the text has no
 * more colons than the parsed objects have keys, no key was lost (the usual body). Otherwise a
 * single pass keeps a set of keys per open object. It is written here rather than taken from a
 * streaming parser because the ones that fit (jsonc-parser's `visit`, momoa) recurse per nesting
 * level and overflow the stack on a 64 KiB body of `{"a":{"a":…` that JSON.parse accepts; this loop
 * keeps its own stack.
 */
export function findDuplicateKey(text: string, parsed: unknown): string | undefined {
  if (countOf(text, ':') <= countKeys(parsed)) return undefined;
  // One entry per open container: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectingKey = false;
  for (let at = 0; at < text.length; at++) {
    switch (text.charCodeAt(at)) {
      case QUOTE: {
        const end = closingQuote(text, at);
        const keys = open.at(-1);
        if (expectingKey && keys) {
          const raw = text.slice(at + 1, end);
          // Escapes spell one key many ways ("a" and "\u0061"): compare what JSON.parse would make.
          const key = raw.includes('\\') ? (JSON.parse(text.slice(at, end + 1)) as string) : raw;
          if (keys.has(key)) return key;
          keys.add(key);
        }
        expectingKey = false;
        at = end;
        break;
      }
      case OPEN_BRACE:
        open.push(new Set());
        expectingKey = true;
        break;
      case OPEN_BRACKET:
        open.push(null);
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        open.pop();
        break;
      case COMMA:
        expectingKey = open.at(-1) != null;
        break;
    }
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start`: the next one not escaped. */
function closingQuote(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
}

function countOf(text: string, char: string): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) count++;
  return count;
}

/** Own keys of every object inside `value`, counted without recursion (JSON.parse allows any depth). */
function countKeys(value: unknown): number {
  let count = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item !== 'object' || item === null) continue;
    const children = Array.isArray(item) ? item : Object.values(item);
    if (!Array.isArray(item)) count += children.length;
    for (const child of children) if (typeof child === 'object' && child !== null) pending.push(child);
  }
  return count;
}
