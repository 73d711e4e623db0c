import { afterEach, describe, expect, it } from 'vitest';
import {
  InputError,
  checkDelayWords,
  clipQuoted,
  parseCallbackUrl,
  parseDelay,
  parseIntegers,
  parseListLimit,
  parseRunArgs,
  parseRunAt,
  parseState,
  parseTaskId,
  parseTaskIdArgs,
  quote,
} from '../../client/src/input.ts';

/** Runs `parse` expecting an InputError and returns its message. */
function inputError(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).message;
  }
  throw new Error('expected an InputError, but the input was accepted');
}

describe('parseIntegers', () => {
  it('reads comma-separated --i lists, in order', () => {
    expect(parseIntegers('add', ['1,2,3', '4'], [])).toEqual([1, 2, 3, 4]);
  });

  it('reads positional arguments, each of which may itself be a list', () => {
    expect(parseIntegers('mul', [], ['2', '3,4'])).toEqual([2, 3, 4]);
  });

  it('puts --i values before positional ones', () => {
    expect(parseIntegers('add', ['10'], ['20'])).toEqual([10, 20]);
  });

  it('accepts negative integers, zero and spaces around values', () => {
    expect(parseIntegers('add', ['-7, 0 ,42'], [])).toEqual([-7, 0, 42]);
  });

  it('sends safe integers as numbers, including the safe-integer limits', () => {
    const values = parseIntegers('add', [`${Number.MAX_SAFE_INTEGER},${Number.MIN_SAFE_INTEGER}`], []);
    expect(values).toEqual([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
    expect(values.map((value) => typeof value)).toEqual(['number', 'number']);
  });

  it('keeps integers beyond the safe range exactly, as decimal strings', () => {
    const big = '123456789012345678901234567890';
    expect(parseIntegers('add', [`9007199254740993,-9007199254740992,${big}`], [])).toEqual(['9007199254740993', '-9007199254740992', big]);
  });

  it('accepts an integer of exactly 1,000 digits, and its negative', () => {
    const digits = '9'.repeat(1_000);
    expect(parseIntegers('add', [], [digits])).toEqual([digits]);
    expect(parseIntegers('add', [`-${digits}`], [])).toEqual([`-${digits}`]);
  });

  it('accepts exactly 1,000 values', () => {
    expect(parseIntegers('add', [Array.from({ length: 1_000 }, () => '1').join(',')], [])).toHaveLength(1_000);
  });

  it.each<[string, string[], string[], string]>([
    ['an empty value inside a list', ['1,,2'], [], '--i "1,,2": value 2 is empty'],
    ['a trailing comma', ['1,2,'], [], '--i "1,2,": value 3 is empty'],
    ['an empty --i', [''], [], '--i "" is empty'],
    ['an empty argument', [], [''], 'argument "" is empty'],
    ['a decimal fraction', ['1.5'], [], '--i "1.5": "1.5" is not an integer'],
    ['a word', ['abc'], [], '--i "abc": "abc" is not an integer'],
    ['a word among valid values', ['1,abc,3'], [], '--i "1,abc,3": value 2: "abc" is not an integer'],
    ['a word as an argument', [], ['7', 'x1'], 'argument "x1": "x1" is not an integer'],
    ['an exponent', ['1e3'], [], '"1e3" is not an integer'],
    ['a hexadecimal literal', ['0x10'], [], '"0x10" is not an integer'],
    ['an explicit plus sign', ['+1'], [], '"+1" is not an integer'],
  ])('refuses %s, naming the value', (_case, lists, positional, message) => {
    expect(inputError(() => parseIntegers('add', lists, positional))).toContain(message);
  });

  it('refuses an integer of 1,001 digits, saying how many are allowed, the argument clipped', () => {
    const message = inputError(() => parseIntegers('add', [], ['1'.repeat(1_001)]));
    expect(message).toBe(`argument "${'1'.repeat(60)}…" has 1001 digits; at most 1000 are allowed`);
  });

  it('does not count the sign as a digit', () => {
    expect(inputError(() => parseIntegers('add', [`-${'1'.repeat(1_001)}`], []))).toContain('has 1001 digits');
  });

  it('refuses more than 1,000 values, counting lists and arguments together', () => {
    const list = Array.from({ length: 1_000 }, () => '1').join(',');
    expect(inputError(() => parseIntegers('add', [list], ['2']))).toBe('1001 integers given; at most 1000 are allowed');
  });

  it('refuses no integers at all, naming the command and showing an example', () => {
    expect(inputError(() => parseIntegers('mul', [], []))).toBe('give the integers to mul, e.g. doozer mul --i 1,2,3');
  });
});

describe('parseTaskId', () => {
  const id = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';

  it('returns a task id as the API issues them', () => {
    expect(parseTaskId(id)).toBe(id);
  });

  it.each([undefined, ''])('refuses a missing id (%j) with an example', (value) => {
    expect(inputError(() => parseTaskId(value))).toContain('give the task id, e.g. doozer lookup --uuid=task_');
  });

  it('names the command in its example', () => {
    expect(inputError(() => parseTaskId(undefined, 'cancel'))).toContain('e.g. doozer cancel --uuid=task_');
  });

  it.each([
    '1db8fd1f-aff0-4db6-9c9a-ada3d20cb006',
    'task_',
    'task_not-a-uuid',
    `${id}0`,
    ` ${id}`,
    'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb00g',
    '../auth/token',
  ])('refuses %j, naming it', (value) => {
    expect(inputError(() => parseTaskId(value))).toBe(`${JSON.stringify(value)} is not a task id; task ids look like task_<uuid>`);
  });
});

describe('parseTaskIdArgs (lookup and cancel: the id as an argument or with --uuid)', () => {
  const id = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';
  const other = 'task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d';

  it('takes the id given either way, or the same id given both ways', () => {
    expect(parseTaskIdArgs(id, undefined)).toBe(id);
    expect(parseTaskIdArgs(undefined, id)).toBe(id);
    expect(parseTaskIdArgs(id, id, 'cancel')).toBe(id);
  });

  it('refuses two different ids rather than pick one', () => {
    expect(inputError(() => parseTaskIdArgs(id, other, 'cancel'))).toBe(
      `two task ids given: "${id}" as an argument and "${other}" with --uuid; give the id once, e.g. doozer cancel task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006`,
    );
    expect(inputError(() => parseTaskIdArgs(id, ''))).toContain('two task ids given');
  });

  it('checks the id as parseTaskId does', () => {
    expect(inputError(() => parseTaskIdArgs(undefined, undefined, 'cancel'))).toContain('give the task id, e.g. doozer cancel --uuid=task_');
    expect(inputError(() => parseTaskIdArgs('task_nope', 'task_nope'))).toBe('"task_nope" is not a task id; task ids look like task_<uuid>');
  });
});

describe('parseRunArgs', () => {
  it.each<[string, unknown]>([
    ['{"ms":3000}', { ms: 3000 }],
    ['[1,2,"123456789012345678901234567890"]', [1, 2, '123456789012345678901234567890']],
    [' { "below" : 100 } ', { below: 100 }],
    ['42', 42],
    ['"text"', 'text'],
    ['null', null],
  ])('reads one JSON argument as it is: %s', (json, args) => {
    expect(parseRunArgs('sleep', json, [])).toEqual(args);
  });

  it('builds an object from --arg key=value, reading each value as JSON when it is JSON', () => {
    expect(parseRunArgs('t', undefined, ['ms=3000', 'on=true', 'none=null', 'list=[1,2]', 'obj={"a":1}', 'quoted="7"'])).toEqual({
      ms: 3000,
      on: true,
      none: null,
      list: [1, 2],
      obj: { a: 1 },
      quoted: '7',
    });
  });

  it('takes a --arg value that is not JSON as text, including an empty one and one with "="', () => {
    expect(parseRunArgs('t', undefined, ['name=bob', 'empty=', 'eq=a=b', 'half={"a":'])).toEqual({ name: 'bob', empty: '', eq: 'a=b', half: '{"a":' });
    // The README's example: doozer run word-count --arg text='one two three'
    expect(parseRunArgs('word-count', undefined, ['text=one two three'])).toEqual({ text: 'one two three' });
  });

  it('keeps __proto__ a plain key of the args', () => {
    const args = parseRunArgs('t', undefined, ['__proto__={"polluted":true}']) as Record<string, unknown>;
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(JSON.stringify(args)).toBe('{"__proto__":{"polluted":true}}');
  });

  it('gives undefined without any args: the API says what the task needs', () => {
    expect(parseRunArgs('sleep', undefined, [])).toBeUndefined();
  });

  it('refuses JSON and --arg together', () => {
    expect(inputError(() => parseRunArgs('sleep', '{"ms":1}', ['ms=2']))).toBe(
      'give the args of sleep either as one JSON argument or as --arg key=value, not both',
    );
  });

  it.each<[string, string]>([
    ['{ms:3000}', "Expected property name or '}' in JSON at position 1"],
    ['abc', "Unexpected token 'a'"],
    ['[1,2', "Expected ',' or ']' after array element"],
    ['', 'Unexpected end of JSON input'],
  ])('refuses args that are not JSON, naming them and the fault: %j', (json, fault) => {
    const message = inputError(() => parseRunArgs('sleep', json, []));
    expect(message).toMatch(new RegExp(`^the args ${JSON.stringify(json).replace(/[[\]{}]/g, '\\$&')} are not valid JSON \\(`));
    expect(message).toContain(fault);
    expect(message).toContain(`e.g. doozer run sleep '{"ms":3000}', or use --arg key=value`);
    // The input is named once, not again inside V8's message.
    expect(message).not.toContain('is not valid JSON)');
  });

  it('cuts a long bad JSON argument in its message', () => {
    const message = inputError(() => parseRunArgs('t', `[${'1,'.repeat(100)}`, []));
    expect(message).toContain('…" are not valid JSON');
    expect(message.length).toBeLessThan(300);
  });

  it.each<[string[], string]>([
    [['ms'], '--arg "ms" is not key=value; give one like --arg ms=3000'],
    [['=3000'], '--arg "=3000" is not key=value; give one like --arg ms=3000'],
    [['ms=1', 'ms=2'], '--arg ms is given twice; give each key once'],
  ])('refuses --arg %j', (pairs, message) => {
    expect(inputError(() => parseRunArgs('sleep', undefined, pairs))).toBe(message);
  });
});

describe('parseDelay (--in)', () => {
  it.each<[string, number]>([
    ['90s', 90],
    ['20m', 1_200],
    ['2h', 7_200],
    ['1d', 86_400],
    ['1h30m', 5_400],
    ['1d2h3m4s', 93_784],
    ['1h 30m', 5_400],
    ['  15M ', 900],
    ['600', 600],
    ['90m', 5_400],
    ['0h5m', 300],
  ])('reads %j as %d seconds', (text, seconds) => {
    expect(parseDelay(text)).toBe(seconds);
  });

  it.each([
    ['a unit it does not know', '5x'],
    ['a unit spelt out', '5 minutes'],
    ['a fraction', '1.5h'],
    ['a number without its last unit', '1h30'],
    ['units smallest first', '30m1h'],
    ['a unit twice', '1m1m'],
    ['a sign', '-5m'],
    ['words around it', 'in 20m'],
    ['nothing', ''],
    ['spaces only', '   '],
    ['an ISO 8601 duration', 'PT20M'],
  ])('refuses %s (%j), with examples', (_case, text) => {
    expect(inputError(() => parseDelay(text))).toBe(
      `--in ${JSON.stringify(text)} is not a duration; give one such as 90s, 20m, 2h, 1d, 1h30m, or plain seconds (600)`,
    );
  });

  it.each(['0', '0s', '0h0m'])('refuses a delay of zero (%j): that is now', (text) => {
    expect(inputError(() => parseDelay(text))).toBe(`--in ${JSON.stringify(text)} is no delay at all; to run the task now, leave --in out`);
  });

  it('refuses a number of seconds beyond exact arithmetic', () => {
    expect(inputError(() => parseDelay('9'.repeat(20)))).toContain('is too long');
  });

  it('leaves the limit to the service: 30 days parse', () => {
    expect(parseDelay('30d')).toBe(2_592_000);
  });
});

describe('checkDelayWords (--in split by the shell)', () => {
  it.each<[string[], string]>([
    [['add', '1', '--in', '20', 'min'], '--in takes the duration as one word: --in 20m (got "--in 20 min")'],
    [['mul', '--in', '20', 'MIN', '2', '3'], '--in takes the duration as one word: --in 20m (got "--in 20 MIN")'],
    [['run', 'sleep', '{"ms":1}', '--in', '90', 'seconds'], '--in takes the duration as one word: --in 90s (got "--in 90 seconds")'],
    [['run', 'sleep', '--arg', 'ms=1', '--in', '2', 'hr'], '--in takes the duration as one word: --in 2h (got "--in 2 hr")'],
    [['--json', 'run', '--in', '1', 'day', 'sleep'], '--in takes the duration as one word: --in 1d (got "--in 1 day")'],
    [['add', '1', '--in=20', 'm'], '--in takes the duration as one word: --in 20m (got "--in=20 m")'],
    [['add', '1', '--in', '1.5', 'h'], '--in takes the duration as one word: --in 1h30m (got "--in 1.5 h")'],
    [['add', '1', '--in', '1.1', 'hours'], '--in takes the duration as one word: --in 1h6m (got "--in 1.1 hours")'],
    [['add', '1', '--in', '1.5', 's'], '--in takes the duration as one word, in whole units: --in 90s, --in 20m, --in 1h30m (got "--in 1.5 s")'],
    [['add', '1', '--in', '1h', '30m'], '--in takes the duration as one word: --in 1h30m (got "--in 1h 30m")'],
    [['add', '1', '--in', '1H', '30min'], '--in takes the duration as one word: --in 1h30m (got "--in 1H 30min")'],
  ])('refuses doozer %j, naming --in and the one word to give', (argv, message) => {
    expect(inputError(() => checkDelayWords(argv))).toBe(message);
  });

  it.each<[string[]]>([
    [['add', '1', '--in', '20m']],
    [['add', '--in', '20', '5', '6']],
    [['add', '--in', '20m', '30']],
    [['run', 'sleep', '--in', '1h 30m']],
    [['run', 'sleep', '--in', '20m', '--wait']],
    [['add', '1', '--in']],
    [['add', '1', '--in', '20']],
    [['add', '--', '--in', '20', 'min']],
    [['lookup', '--in', '20', 'min']],
    [['run', 'sleep', '--at', '20', 'min']],
    [['run', '--in', '20', 'constructor']],
    [['run', '--in', '1h', '30constructor']],
  ])('leaves doozer %j alone', (argv) => {
    expect(() => checkDelayWords(argv)).not.toThrow();
  });
});

describe('parseRunAt (--at)', () => {
  const savedZone = process.env.TZ;
  afterEach(() => {
    if (savedZone === undefined) delete process.env.TZ;
    else process.env.TZ = savedZone;
  });

  it.each<[string, string]>([
    ['2026-12-01T18:30:00Z', '2026-12-01T18:30:00.000Z'],
    ['2026-12-01T18:30Z', '2026-12-01T18:30:00.000Z'],
    ['2026-12-01t18:30:00z', '2026-12-01T18:30:00.000Z'],
    ['2026-12-01 18:30Z', '2026-12-01T18:30:00.000Z'],
    ['2026-12-01T18:30:00.25Z', '2026-12-01T18:30:00.250Z'],
    ['2026-12-01T18:30:00.123456789Z', '2026-12-01T18:30:00.123Z'],
    ['2026-12-01T18:30:00+01:00', '2026-12-01T17:30:00.000Z'],
    ['2026-12-01T18:30-0530', '2026-12-02T00:00:00.000Z'],
    ['2026-12-31T23:30:00-01:00', '2027-01-01T00:30:00.000Z'],
    ['2028-02-29T00:00Z', '2028-02-29T00:00:00.000Z'],
  ])('reads %j with its zone as %s', (text, iso) => {
    expect(parseRunAt(text).toISOString()).toBe(iso);
  });

  it("reads a time without a zone as this machine's local time", () => {
    process.env.TZ = 'Europe/Paris';
    expect(parseRunAt('2026-12-01T18:30').toISOString()).toBe('2026-12-01T17:30:00.000Z');
    expect(parseRunAt('2026-07-01 18:30:15').toISOString()).toBe('2026-07-01T16:30:15.000Z');
    process.env.TZ = 'America/New_York';
    expect(parseRunAt('2026-12-01T18:30').toISOString()).toBe('2026-12-01T23:30:00.000Z');
  });

  it('refuses a local time the clocks skip, rather than moving it', () => {
    process.env.TZ = 'Europe/Paris';
    expect(inputError(() => parseRunAt('2026-03-29T02:30'))).toBe(
      '--at "2026-03-29T02:30" does not exist in the local time zone (the clocks skip it); give another time, or one with a zone',
    );
    // With a zone it is a plain instant.
    expect(parseRunAt('2026-03-29T02:30+01:00').toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });

  it.each(['tomorrow', '18:30', '2026-12-01T18', '2026-12-1T18:30Z', '1764613800', '2026-12-01T18:30:00 Z', '2026-12-01T18:30+1', 'next friday'])(
    'refuses %j, with examples of what it takes',
    (text) => {
      expect(inputError(() => parseRunAt(text))).toBe(
        `--at ${JSON.stringify(text)} is not a time; give an ISO 8601 time, such as 2026-12-01T18:30Z, 2026-12-01T18:30+01:00, or 2026-12-01T18:30 (your local time)`,
      );
    },
  );

  it('asks for the time of a date alone', () => {
    expect(inputError(() => parseRunAt('2026-12-01'))).toContain('is not a time; give a time as well as the date, such as 2026-12-01T18:30Z');
  });

  it.each(['2026-02-30T10:00Z', '2027-02-29T10:00Z', '2026-13-01T10:00Z', '2026-00-10T10:00Z', '2026-12-01T24:00Z', '2026-12-01T18:60Z', '2026-12-01T18:30:60Z', '2026-12-01T18:30+24:00', '2026-12-01T18:30+01:60', '2026-04-31T10:00'])(
    'refuses a date or time that does not exist: %j',
    (text) => {
      expect(inputError(() => parseRunAt(text))).toBe(
        `--at ${JSON.stringify(text)} is not a valid date and time; give one such as 2026-12-01T18:30Z, 2026-12-01T18:30+01:00, or 2026-12-01T18:30 (your local time)`,
      );
    },
  );

  it('leaves past and far times to the service, whose clock counts', () => {
    expect(parseRunAt('2001-01-01T00:00Z').toISOString()).toBe('2001-01-01T00:00:00.000Z');
    expect(parseRunAt('2099-01-01T00:00Z').toISOString()).toBe('2099-01-01T00:00:00.000Z');
  });
});

describe('parseState (list --state)', () => {
  it.each<[string, string]>([
    ['FAILURE', 'FAILURE'],
    ['failure', 'FAILURE'],
    ['Scheduled', 'SCHEDULED'],
    [' cancelled ', 'CANCELLED'],
  ])('reads %j as %s', (text, state) => {
    expect(parseState(text)).toBe(state);
  });

  it.each(['done', 'FAILED', '', 'PENDING,RETRY'])('refuses %j, listing the states', (text) => {
    expect(inputError(() => parseState(text))).toBe(
      `--state ${JSON.stringify(text)} is not a task state; give one of SCHEDULED, PENDING, RETRY, SUCCESS, FAILURE, CANCELLED`,
    );
  });
});

describe('parseListLimit (list --limit)', () => {
  it.each<[string, number]>([
    ['1', 1],
    ['20', 20],
    ['150', 150],
    ['1000', 1_000],
  ])('reads %j as %d', (text, limit) => {
    expect(parseListLimit(text)).toBe(limit);
  });

  it.each(['0', '1001', '-5', '1.5', '1e2', 'ten', ''])('refuses %j, naming the range', (text) => {
    expect(inputError(() => parseListLimit(text))).toBe(`--limit ${JSON.stringify(text)} is not a number of tasks from 1 to 1000`);
  });
});

describe('parseCallbackUrl (--callback)', () => {
  it.each([
    'https://example.com/hooks/doozer',
    'http://127.0.0.1:8080/hook?task=1#end',
    'HTTPS://Example.COM',
    'https://user@example.com/hook',
  ])('takes %j as typed: an absolute http(s) URL (the service judges the rest)', (text) => {
    expect(parseCallbackUrl(text)).toBe(text);
  });

  it.each<[string, string]>([
    ['example.com/hook', 'is not an absolute URL; give one with its scheme and host'],
    ['/hooks/doozer', 'is not an absolute URL; give one with its scheme and host'],
    ['http://', 'is not an absolute URL; give one with its scheme and host'],
    ['ftp://example.com/hook', 'uses ftp:; the service calls only http: and https: URLs'],
    ['mailto:ops@example.com', 'uses mailto:; the service calls only http: and https: URLs'],
    ['https:example.com', 'needs // and a host after https:'],
    ['http:///hook', 'needs // and a host after http:'],
    [' https://example.com', 'has spaces around it; give the URL alone'],
  ])('refuses %j: %s', (text, reason) => {
    expect(inputError(() => parseCallbackUrl(text))).toMatch(new RegExp(`^--callback ${escape(JSON.stringify(text))} ${escape(reason)}`));
  });

  it('refuses an empty one, showing what to give', () => {
    expect(inputError(() => parseCallbackUrl(''))).toBe('--callback needs a URL, e.g. --callback https://example.com/hooks/doozer');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

describe('arguments in messages', () => {
  const long = `{"ms":${'9'.repeat(5_000)}}`;

  it('quotes an argument of up to 60 characters whole, and a longer one clipped with an ellipsis', () => {
    expect(quote('x'.repeat(60))).toBe(`"${'x'.repeat(60)}"`);
    expect(quote('x'.repeat(61))).toBe(`"${'x'.repeat(60)}…"`);
    expect(quote('say "hi"')).toBe('"say \\"hi\\""');
  });

  it.each<[string, () => unknown]>([
    ['--i', () => parseIntegers('add', [`1,${'x'.repeat(5_000)}`], [])],
    ['a task id', () => parseTaskId(long)],
    ['--in', () => parseDelay(long)],
    ['--at', () => parseRunAt(long)],
    ['--state', () => parseState(long)],
    ['--limit', () => parseListLimit(long)],
    ['--callback', () => parseCallbackUrl(`${'x'.repeat(5_000)}:/hook`)],
    ['run args', () => parseRunArgs('sleep', `${long},`, [])],
    ['--arg given twice', () => parseRunArgs('sleep', undefined, [`${'k'.repeat(5_000)}=1`, `${'k'.repeat(5_000)}=2`])],
    ['--arg without =', () => parseRunArgs('sleep', undefined, [long])],
  ])('clips a 5,000-character %s in its message', (_what, parse) => {
    const message = inputError(parse);
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('…');
  });

  it("clips each 'quoted' argument of commander's messages, and leaves short ones be", () => {
    expect(clipQuoted(`error: unknown command '${'a'.repeat(500)}'`)).toBe(`error: unknown command '${'a'.repeat(60)}…'`);
    expect(clipQuoted("error: unknown option '--bogus' (Did you mean '--wait'?)")).toBe("error: unknown option '--bogus' (Did you mean '--wait'?)");
  });
});
