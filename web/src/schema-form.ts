import type { JsonSchema, TaskType } from '../../client/src/types.ts';
import { h } from './dom.ts';

/** A field the reader filled in wrong, named so the page can point at it. */
export class FieldError extends Error {
  constructor(
    readonly input: HTMLElement,
    message: string,
  ) {
    super(message);
  }
}

export interface ArgsForm {
  /** The fields, each with its label and hint. */
  readonly element: HTMLElement;
  /** The args as the API takes them; throws FieldError for what cannot be one. */
  read(): unknown;
}

let ids = 0;
const nextId = (name: string) => `arg-${name}-${++ids}`;

/**
 * The fields for a task type's args, from their JSON Schema (`GET /task-types`): an object's
 * properties one field each (a number field with its bounds, a text field, a checkbox, a choice),
 * a list of integers or strings one text field of values separated by spaces or commas, and for
 * any other shape a JSON text area. The API checks the args again and its message is shown.
 */
export function argsForm(type: TaskType): ArgsForm {
  const schema = type.args;
  if (schema.type === 'object' && isRecord(schema.properties)) {
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    const fields = Object.entries(schema.properties).map(([name, property]) => field(name, property as JsonSchema, required.has(name)));
    return {
      element: h('div', { class: 'fields' }, ...fields.map((f) => f.element)),
      read: () => {
        const args: Record<string, unknown> = {};
        for (const f of fields) {
          const value = f.read();
          if (value !== undefined) args[f.name] = value;
        }
        return args;
      },
    };
  }
  const only = field('args', schema, true, type.name === 'add' || type.name === 'mul' ? 'Integers' : 'Args');
  return { element: h('div', { class: 'fields' }, only.element), read: only.read };
}

interface Field {
  readonly name: string;
  readonly element: HTMLElement;
  read(): unknown;
}

function field(name: string, schema: JsonSchema, required: boolean, label = name): Field {
  const id = nextId(name);
  const hintId = `${id}-hint`;
  const hintText = hint(schema);
  const labelled = (input: HTMLElement) =>
    h('div', { class: 'field' }, h('label', { for: id }, label, required ? '' : ' (optional)'), input, hintText ? h('p', { class: 'hint', id: hintId }, hintText) : null);
  const common = { id, name, required, 'aria-describedby': hintText ? hintId : undefined };

  if (Array.isArray(schema.enum)) {
    const select = h(
      'select',
      common,
      required ? null : h('option', { value: '' }, '(none)'),
      ...(schema.enum as unknown[]).map((value) => h('option', { value: JSON.stringify(value) }, String(value))),
    );
    return { name, element: labelled(select), read: () => (select.value === '' ? undefined : JSON.parse(select.value)) };
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const input = h('input', {
      ...common,
      type: 'number',
      inputmode: schema.type === 'integer' ? 'numeric' : 'decimal',
      step: schema.type === 'integer' ? 1 : 'any',
      min: typeof schema.minimum === 'number' ? schema.minimum : undefined,
      max: typeof schema.maximum === 'number' ? schema.maximum : undefined,
    });
    return {
      name,
      element: labelled(input),
      read: () => {
        // What a number field cannot parse ("1,000", "abc") reads as empty: say what is wrong with it.
        if (input.validity.badInput) throw new FieldError(input, `${label} must be a number.`);
        if (input.value.trim() === '') {
          if (required) throw new FieldError(input, `${label} is required.`);
          return undefined;
        }
        const value = Number(input.value);
        if (!Number.isFinite(value)) throw new FieldError(input, `${label} must be a number.`);
        if (schema.type === 'integer' && !Number.isInteger(value)) throw new FieldError(input, `${label} must be a whole number.`);
        // The schema's bounds, checked here so the message says them as the hint does.
        const [min, max] = [schema.minimum, schema.maximum].map((bound) => (typeof bound === 'number' ? bound : undefined));
        if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
          throw new FieldError(input, `${label} must be ${boundsText(min, max)} (got ${value.toLocaleString()}).`);
        }
        return value;
      },
    };
  }
  if (schema.type === 'boolean') {
    const input = h('input', { ...common, type: 'checkbox', required: false });
    return { name, element: labelled(input), read: () => (input.checked || required ? input.checked : undefined) };
  }
  if (schema.type === 'string') {
    const input = h('input', { ...common, type: 'text', autocomplete: 'off' });
    return { name, element: labelled(input), read: () => (input.value === '' && !required ? undefined : input.value) };
  }
  if (schema.type === 'array' && isRecord(schema.items) && scalarKinds(schema.items as JsonSchema).size > 0) {
    const kinds = scalarKinds(schema.items as JsonSchema);
    const input = h('input', { ...common, type: 'text', autocomplete: 'off', placeholder: kinds.has('integer') ? '1 2 3' : 'a, b, c' });
    return {
      name,
      element: labelled(input),
      read: () => {
        const words = input.value.split(/[\s,]+/).filter((word) => word !== '');
        if (words.length === 0) {
          if (required) throw new FieldError(input, `${label}: give at least one value.`);
          return undefined;
        }
        const [fewest, most] = [schema.minItems, schema.maxItems];
        if ((typeof fewest === 'number' && words.length < fewest) || (typeof most === 'number' && words.length > most)) {
          throw new FieldError(input, `${label}: give ${boundsText(fewest as number | undefined, most as number | undefined)} values (got ${words.length.toLocaleString()}).`);
        }
        return words.map((word, index) => listItem(word, schema.items as JsonSchema, input, `${label}: value ${index + 1}`));
      },
    };
  }
  const area = h('textarea', { ...common, rows: 4, spellcheck: 'false' });
  return {
    name,
    element: labelled(area),
    read: () => {
      if (area.value.trim() === '' && !required) return undefined;
      try {
        return JSON.parse(area.value);
      } catch {
        throw new FieldError(area, `${label} must be JSON.`);
      }
    },
  };
}

/**
 * A word of a list field, as the item schema takes it: an integer as a JSON number when exact (a
 * longer one as its decimal string, where the schema takes those), a number, or a string that
 * matches the schema's pattern. Counted from 1 in messages, as a reader counts.
 */
function listItem(word: string, item: JsonSchema, input: HTMLElement, label: string): unknown {
  const variants = Array.isArray(item.anyOf) ? (item.anyOf as JsonSchema[]) : [item];
  const integer = variants.some((v) => v.type === 'integer');
  const strings = variants.filter((v) => v.type === 'string');
  const fitsString = strings.some((v) => typeof v.pattern !== 'string' || new RegExp(v.pattern).test(word));
  if (integer && /^-?\d+$/.test(word)) {
    const value = Number(word);
    if (Number.isSafeInteger(value)) return value;
    if (fitsString) return word;
  }
  if (variants.some((v) => v.type === 'number') && word.trim() !== '' && Number.isFinite(Number(word))) return Number(word);
  if (strings.length > 0 && fitsString && !integer) return word;
  if (integer && fitsString) return word;
  const kind = integer ? 'a whole number (digits, with an optional minus sign)' : strings.length > 0 ? 'in the expected form' : 'a number';
  throw new FieldError(input, `${label}, ${JSON.stringify(word)}, is not ${kind}.`);
}

/** "from 0 to 120,000", "at least 2", "at most 5". */
function boundsText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `from ${min.toLocaleString()} to ${max.toLocaleString()}`;
  if (min !== undefined) return `at least ${min.toLocaleString()}`;
  return `at most ${(max as number).toLocaleString()}`;
}

/** The scalar types a schema admits (`anyOf` included): integer, number, string. */
function scalarKinds(schema: JsonSchema): Set<string> {
  const kinds = new Set<string>();
  const variants = Array.isArray(schema.anyOf) ? (schema.anyOf as JsonSchema[]) : [schema];
  for (const variant of variants) {
    if (variant.type === 'integer' || variant.type === 'number' || variant.type === 'string') kinds.add(variant.type);
  }
  return kinds;
}

/** What the schema says of the field in words: its bounds and counts. */
function hint(schema: JsonSchema): string {
  const parts: string[] = [];
  if (typeof schema.description === 'string' && schema.description.length <= 200) parts.push(schema.description);
  if (typeof schema.minimum === 'number' && typeof schema.maximum === 'number') {
    parts.push(`From ${schema.minimum.toLocaleString()} to ${schema.maximum.toLocaleString()}.`);
  }
  if (schema.type === 'array') {
    const kinds = isRecord(schema.items) ? scalarKinds(schema.items as JsonSchema) : new Set<string>();
    const what = kinds.has('integer') ? 'integers' : 'values';
    const count =
      typeof schema.minItems === 'number' && typeof schema.maxItems === 'number' ? ` ${schema.minItems.toLocaleString()} to ${schema.maxItems.toLocaleString()}` : '';
    parts.push(`${count ? `${count.trim()} ` : ''}${what}, separated by spaces or commas.`.replace(/^./, (c) => c.toUpperCase()));
  }
  return parts.join(' ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
