import type * as z from 'zod/mini';

/** Faults named in one message: a body of 1,000 bad arguments gets the first few, not a 50 KB message. */
export const MAX_ISSUES_DESCRIBED = 3;

/**
 * One message for what a schema refused, naming each field and its rule (`args.ms must be at most
 * 120000`), at most three, then how many more. zod/mini carries no wording of its own ("Invalid
 * input") unless a schema gives one, so the common rules are worded here; a schema's own message
 * wins.
 */
export function describeIssues(all: readonly z.core.$ZodIssue[], root = ''): string {
  const issues = tightest(all);
  const described = issues.slice(0, MAX_ISSUES_DESCRIBED).map((issue) => describeIssue(issue, root));
  const more = issues.length - MAX_ISSUES_DESCRIBED;
  return more > 0 ? `${described.join('; ')}; and ${more} more` : described.join('; ');
}

function describeIssue(issue: z.core.$ZodIssue, root: string): string {
  const field = fieldName([...(root ? [root] : []), ...issue.path]);
  if (issue.code === 'unrecognized_keys') {
    const where = field ? ` in ${field}` : '';
    const { keys } = issue;
    const named = keys.slice(0, MAX_ISSUES_DESCRIBED).map((key) => (key.length > 40 ? `${key.slice(0, 40)}…` : key));
    const others = keys.length > named.length ? ` and ${keys.length - named.length} more` : '';
    return `unknown field${keys.length > 1 ? 's' : ''} ${named.join(', ')}${others}${where}; remove ${keys.length > 1 ? 'them' : 'it'}`;
  }
  const rule = issue.message && issue.message !== 'Invalid input' ? issue.message : ruleOf(issue);
  return field ? `${field} ${rule}` : `the body ${rule}`;
}

/** `args[2]`, `args.ms`, or '' for the whole value. */
function fieldName(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`))
    .join('');
}

/**
 * Of several bounds on one field, the tightest: `z.int()` carries the safe-integer range besides a
 * schema's own maximum, and naming both (`at most 9007199254740991; … at most 120000`) says nothing more.
 */
function tightest(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const kept = new Map<string, z.core.$ZodIssue>();
  const result: z.core.$ZodIssue[] = [];
  for (const issue of issues) {
    if (issue.code !== 'too_big' && issue.code !== 'too_small') {
      result.push(issue);
      continue;
    }
    const key = `${issue.code}:${issue.path.map(String).join('.')}`;
    const previous = kept.get(key);
    if (!previous) {
      kept.set(key, issue);
      result.push(issue);
      continue;
    }
    const tighter =
      issue.code === 'too_big'
        ? Number(issue.maximum) < Number((previous as typeof issue).maximum)
        : Number(issue.minimum) > Number((previous as typeof issue).minimum);
    if (tighter) {
      result[result.indexOf(previous)] = issue;
      kept.set(key, issue);
    }
  }
  return result;
}

const TYPE_NAMES: Readonly<Record<string, string>> = { int: 'integer', bigint: 'integer' };

function ruleOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return 'is required';
      // A number where an integer belongs: say which, as "got number" would not.
      const got = expected === 'integer' && typeof issue.input === 'number' ? String(issue.input) : typeOf(issue.input);
      return `must be ${article(expected)}, got ${got}`;
    }
    case 'too_small':
      return bound(issue.origin, issue.inclusive ? 'at least' : 'more than', issue.minimum);
    case 'too_big':
      return bound(issue.origin, issue.inclusive ? 'at most' : 'less than', issue.maximum);
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue ? `must match ${String(issue.pattern)}` : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'invalid_union':
      return 'matches none of the allowed forms';
    default:
      return 'is not valid';
  }
}

function bound(origin: string, relation: string, limit: number | bigint): string {
  if (origin === 'array' || origin === 'set') return `must hold ${relation} ${limit} item${Number(limit) === 1 ? '' : 's'}`;
  if (origin === 'string') return `must be ${relation} ${limit} character${Number(limit) === 1 ? '' : 's'} long`;
  return `must be ${relation} ${limit}`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
