import { MAX_ARG_DIGITS } from '../../lib/tasks/exact-integer.ts';
import { isTaskId } from '../../lib/tasks/task.ts';
import { MAX_INTEGERS } from '../../tasks/integers.ts';
import { TASK_STATES, type TaskState, type WireInteger } from './types.ts';

/** Input the CLI refuses before sending anything; reported as a usage error. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** The most characters of an argument that a message repeats; the rest is cut, with an ellipsis. */
const MAX_QUOTED_LENGTH = 60;

/** `text` cut to MAX_QUOTED_LENGTH characters, with `…` when it was longer. */
export function clip(text: string): string {
  return text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text;
}

/** An argument as a message repeats it: quoted, and clipped (a 1,000-digit number, a file of JSON pasted in). */
export function quote(text: string): string {
  return JSON.stringify(clip(text));
}

/** A message from commander with each 'quoted' argument in it clipped. */
export function clipQuoted(message: string): string {
  return message.replace(/'([^']*)'/g, (_whole, inner: string) => `'${clip(inner)}'`);
}

const INTEGER = /^-?\d+$/;

/**
 * Reads the integers of `add` / `mul` from `--i` lists ("1,2,3") and positional arguments, checking
 * each the way the API will, so a typo fails here with a message instead of in a request. Safe
 * integers go as JSON numbers, larger ones as decimal strings.
 */
export function parseIntegers(command: string, lists: readonly string[], positional: readonly string[]): WireInteger[] {
  const values: WireInteger[] = [];
  const sources = [...lists.map((list) => ({ label: `--i ${quote(list)}`, list })), ...positional.map((list) => ({ label: `argument ${quote(list)}`, list }))];
  for (const { label, list } of sources) {
    list.split(',').forEach((raw, index, parts) => {
      const value = raw.trim();
      const where = parts.length > 1 ? `${label}: value ${index + 1}` : label;
      if (value === '') throw new InputError(`${where} is empty; separate integers with single commas, e.g. --i 1,2,3`);
      if (!INTEGER.test(value)) {
        throw new InputError(`${where}: ${quote(value)} is not an integer; use whole numbers such as 42 or -7`);
      }
      const digits = value.replace('-', '').length;
      if (digits > MAX_ARG_DIGITS) throw new InputError(`${where} has ${digits} digits; at most ${MAX_ARG_DIGITS} are allowed`);
      const asNumber = Number(value);
      values.push(Number.isSafeInteger(asNumber) ? asNumber : BigInt(value).toString());
    });
  }
  if (values.length === 0) throw new InputError(`give the integers to ${command}, e.g. doozer ${command} --i 1,2,3`);
  if (values.length > MAX_INTEGERS) throw new InputError(`${values.length} integers given; at most ${MAX_INTEGERS} are allowed`);
  return values;
}

/** A task id as the API issues them; anything else is a usage error. */
export function parseTaskId(value: string | undefined, command = 'lookup'): string {
  if (!value) throw new InputError(`give the task id, e.g. doozer ${command} --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006`);
  if (!isTaskId(value)) throw new InputError(`${quote(value)} is not a task id; task ids look like task_<uuid>`);
  return value;
}

/**
 * The task id of lookup and cancel, given as an argument or with --uuid: either, or both when they
 * are the same id; two different ids are a usage error, not a guess at which was meant.
 */
export function parseTaskIdArgs(positional: string | undefined, uuid: string | undefined, command = 'lookup'): string {
  if (positional !== undefined && uuid !== undefined && positional !== uuid) {
    throw new InputError(
      `two task ids given: ${quote(positional)} as an argument and ${quote(uuid)} with --uuid; ` +
        `give the id once, e.g. doozer ${command} task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006`,
    );
  }
  return parseTaskId(uuid ?? positional, command);
}

/**
 * The args of `doozer run`: one JSON value (`'{"ms":3000}'`, `'[1,2,3]'`), or `--arg key=value`
 * pairs that build an object, each value read as JSON when it is JSON (`ms=3000` gives a number,
 * `flag=true` a boolean) and as a string otherwise (`name=bob`). Neither gives `undefined`: the
 * request then has no args, and the API says what the task needs.
 */
export function parseRunArgs(task: string, json: string | undefined, pairs: readonly string[]): unknown {
  if (json !== undefined && pairs.length > 0) {
    throw new InputError(`give the args of ${task} either as one JSON argument or as --arg key=value, not both`);
  }
  if (json !== undefined) {
    try {
      return JSON.parse(json);
    } catch (error) {
      throw new InputError(
        // V8 repeats the whole input in some messages ('Unexpected token 'a', "abc" is not valid JSON').
        `the args ${quote(json)} are not valid JSON (${(error as Error).message.replace(/, ".*" is not valid JSON$/s, '')}); ` +
          `quote them for the shell, e.g. doozer run sleep '{"ms":3000}', or use --arg key=value`,
      );
    }
  }
  if (pairs.length === 0) return undefined;
  const entries = new Map<string, unknown>();
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new InputError(`--arg ${quote(pair)} is not key=value; give one like --arg ms=3000`);
    const key = pair.slice(0, equals);
    if (entries.has(key)) throw new InputError(`--arg ${clip(key)} is given twice; give each key once`);
    entries.set(key, readValue(pair.slice(equals + 1)));
  }
  // fromEntries defines own properties: a key such as __proto__ stays a plain key.
  return Object.fromEntries(entries);
}

/** A --arg value: JSON when it parses (3000, true, null, "x", [1,2], {"a":1}), else the text itself. */
function readValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}


/** `--in`: days, hours, minutes and seconds, largest first, each at most once (`1h30m`, `1d 12h`). */
const DURATION = /^(?:(\d+)d\s*)?(?:(\d+)h\s*)?(?:(\d+)m\s*)?(?:(\d+)s)?$/;
const DURATION_UNITS = [86_400, 3_600, 60, 1] as const;
const DURATION_EXAMPLES = '90s, 20m, 2h, 1d, 1h30m, or plain seconds (600)';

/**
 * The `--in` of add, mul and run: a delay in whole seconds, from `90s`, `20m`, `2h`, `1d`, `1h30m`
 * (units largest first, each once; spaces between them allowed; any case) or a plain number of
 * seconds. Strict on purpose: a typo must not schedule a task at some other time. How far ahead is
 * the service's to judge (it says its limit); zero is refused, since it would mean now.
 */
export function parseDelay(text: string): number {
  const trimmed = text.trim().toLowerCase();
  const match = /^\d+$/.test(trimmed) ? ([trimmed, undefined, undefined, undefined, trimmed] as const) : DURATION.exec(trimmed);
  if (trimmed === '' || !match) {
    throw new InputError(`--in ${quote(text)} is not a duration; give one such as ${DURATION_EXAMPLES}`);
  }
  const seconds = DURATION_UNITS.reduce((total, unit, index) => total + Number(match[index + 1] ?? 0) * unit, 0);
  if (!Number.isSafeInteger(seconds)) throw new InputError(`--in ${quote(text)} is too long`);
  if (seconds === 0) throw new InputError(`--in ${quote(text)} is no delay at all; to run the task now, leave --in out`);
  return seconds;
}

/** Words for a time unit, in any case, and the letter --in takes for each. */
const UNIT_WORDS: ReadonlyMap<string, 'd' | 'h' | 'm' | 's'> = new Map([
  ...['s', 'sec', 'secs', 'second', 'seconds'].map((word) => [word, 's'] as const),
  ...['m', 'min', 'mins', 'minute', 'minutes'].map((word) => [word, 'm'] as const),
  ...['h', 'hr', 'hrs', 'hour', 'hours'].map((word) => [word, 'h'] as const),
  ...['d', 'day', 'days'].map((word) => [word, 'd'] as const),
]);
const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
/** The commands that take --in. */
const DELAY_COMMANDS: ReadonlySet<string> = new Set(['add', 'mul', 'run']);

/**
 * `--in 20 min`: a duration the shell split in two, whose second word would be read as a task
 * argument (`argument "min" is not an integer`, `too many arguments for 'run'`), an error that never
 * names --in. Looks through the command line, before it is parsed, for `--in <number>` (or
 * `--in=<number>`) of add, mul or run followed by a word that is a bare time unit (s, sec, secs,
 * second(s), m, min(s), minute(s), h, hr(s), hour(s), d, day(s)), or `--in <duration>` followed by a
 * number with a unit (`--in 1h 30m`), and throws an InputError that shows the one word to give.
 * Nothing after `--` is looked at (it is all arguments).
 */
export function checkDelayWords(argv: readonly string[]): void {
  let command = false;
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === '--') return;
    if (DELAY_COMMANDS.has(word)) command = true;
    const inline = word.startsWith('--in=');
    if (!command || (word !== '--in' && !inline)) continue;
    const value = inline ? word.slice('--in='.length) : argv[index + 1];
    const next = argv[index + (inline ? 1 : 2)];
    if (value === undefined || next === undefined) continue;
    const joined = joinedDelay(value, next);
    if (joined === undefined) continue;
    const given = quote(`${word} ${inline ? '' : `${value} `}${next}`);
    throw new InputError(
      joined === null
        ? `--in takes the duration as one word, in whole units: --in 90s, --in 20m, --in 1h30m (got ${given})`
        : `--in takes the duration as one word: --in ${joined} (got ${given})`,
    );
  }
}

/**
 * The one word that `--in <value> <next>` meant, null when it meant one in no whole unit (`1.5 s`),
 * or undefined when `next` is no part of the duration.
 */
function joinedDelay(value: string, next: string): string | null | undefined {
  const unit = UNIT_WORDS.get(next.toLowerCase());
  if (unit !== undefined && /^\d+$/.test(value)) return `${value}${unit}`;
  // 1.5 h: in whole units, the largest first (1h30m), as --in takes them.
  if (unit !== undefined && /^\d*\.\d+$/.test(value)) return compactDuration(Number(value) * UNIT_SECONDS[unit]);
  // 1h 30m: a second word that is a number with its unit, after a duration with units.
  const counted = /^(\d+)([a-z]+)$/i.exec(next);
  const nextUnit = counted && UNIT_WORDS.get(counted[2]!.toLowerCase());
  if (!nextUnit || !/^(\d+[dhms])+$/i.test(value)) return undefined;
  return `${value.toLowerCase()}${counted[1]}${nextUnit}`;
}

/** Whole seconds as --in takes them, largest unit first (5400 → 1h30m); null for a fraction of a second. */
function compactDuration(seconds: number): string | null {
  // 1.1 h is 3960.0000000000005 s in floating point.
  const whole = Math.round(seconds);
  if (Math.abs(seconds - whole) > 1e-6 || !Number.isSafeInteger(whole) || whole <= 0) return null;
  let left = whole;
  let text = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    if (left >= size) text += `${Math.floor(left / size)}${unit}`;
    left %= size;
  }
  return text;
}

/** `--at`: a date, a time to the minute (seconds and fraction optional), and optionally a zone. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[t ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(z|[+-]\d{2}:?\d{2})?$/;
const AT_EXAMPLES = 'such as 2026-12-01T18:30Z, 2026-12-01T18:30+01:00, or 2026-12-01T18:30 (your local time)';

/**
 * The `--at` of add, mul and run: an ISO 8601 date and time, with `Z` or an offset (`+01:00`,
 * `+0100`) for that zone, or without one for the local time of this machine (its TZ), which the
 * service could not know. `T` or a space between date and time; seconds optional. A local time that
 * the clocks skip (a daylight-saving change) is refused rather than moved. Whether it is in the
 * future, and not too far, is the service's to judge: its clock is the one that counts.
 */
export function parseRunAt(text: string): Date {
  const trimmed = text.trim();
  const match = DATE_TIME.exec(trimmed.toLowerCase());
  if (!match) {
    const hint = /^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? 'give a time as well as the date' : 'give an ISO 8601 time';
    throw new InputError(`--at ${quote(text)} is not a time; ${hint}, ${AT_EXAMPLES}`);
  }
  const [year, month, day, hour, minute, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const ms = Number(`0.${match[7] ?? '0'}`) * 1000;
  const zone = match[8];
  const fields = [year, month - 1, day, hour, minute, second, Math.floor(ms)] as const;
  const offsetMinutes = zone === undefined || zone === 'z' ? 0 : zoneOffsetMinutes(zone);
  const outOfRange =
    month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate() || hour > 23 || minute > 59 || second > 59 || offsetMinutes === undefined;
  if (outOfRange) throw new InputError(`--at ${quote(text)} is not a valid date and time; give one ${AT_EXAMPLES}`);
  if (zone !== undefined) return new Date(Date.UTC(...fields) - offsetMinutes * 60_000);
  const local = new Date(...fields);
  // The Date constructor moves a skipped local time (02:30 on the night clocks go forward) silently.
  if (local.getHours() !== hour || local.getMinutes() !== minute || local.getDate() !== day) {
    throw new InputError(`--at ${quote(text)} does not exist in the local time zone (the clocks skip it); give another time, or one with a zone`);
  }
  return local;
}

/** `+01:00` or `-0530` in minutes east of UTC; undefined beyond ±23:59. */
function zoneOffsetMinutes(zone: string): number | undefined {
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2));
  if (hours > 23 || minutes > 59) return undefined;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
}

/** The `--state` of list: one of the task states, in any case. */
export function parseState(text: string): TaskState {
  const state = TASK_STATES.find((candidate) => candidate === text.trim().toUpperCase());
  if (!state) throw new InputError(`--state ${quote(text)} is not a task state; give one of ${TASK_STATES.join(', ')}`);
  return state;
}

/** The most tasks `doozer list` shows in one run (ten pages of the API's largest). */
export const MAX_LIST_LIMIT = 1_000;

/** The `--limit` of list: how many tasks to show, 1 to 1000. */
export function parseListLimit(text: string): number {
  const limit = Number(text);
  if (!/^\d+$/.test(text.trim()) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InputError(`--limit ${quote(text)} is not a number of tasks from 1 to ${MAX_LIST_LIMIT}`);
  }
  return limit;
}

const CALLBACK_EXAMPLE = 'https://example.com/hooks/doozer';

/**
 * The `--callback` of add, mul and run: an absolute http or https URL, returned as typed. Whether
 * the API may call it (a public address, a length it takes) is the service's to judge.
 */
export function parseCallbackUrl(text: string): string {
  const given = `--callback ${quote(text)}`;
  if (text.trim() === '') throw new InputError(`--callback needs a URL, e.g. --callback ${CALLBACK_EXAMPLE}`);
  if (text !== text.trim()) throw new InputError(`${given} has spaces around it; give the URL alone, e.g. --callback ${CALLBACK_EXAMPLE}`);
  let url: URL;
  try {
    // Not URL.parse: the client runs on Node 20, which lacks it.
    url = new URL(text);
  } catch {
    throw new InputError(`${given} is not an absolute URL; give one with its scheme and host, e.g. --callback ${CALLBACK_EXAMPLE}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError(`${given} uses ${clip(url.protocol)}; the service calls only http: and https: URLs, e.g. --callback ${CALLBACK_EXAMPLE}`);
  }
  // WHATWG URLs take `https:example.com` and `http:/x` for https://example.com/ and http://x/: a typo, more likely than not.
  if (!/^https?:\/\/[^/]/i.test(text)) throw new InputError(`${given} needs // and a host after ${url.protocol}, e.g. --callback ${CALLBACK_EXAMPLE}`);
  return text;
}
