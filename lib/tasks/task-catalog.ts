import * as z from 'zod/mini';
import { type AnyTaskDefinition, type TaskDefinition } from './define-task.ts';
import { RUN_LATER_FIELDS, type RunLater } from './run-later.ts';
import { describeIssues } from './schema-issues.ts';
import type { Json, TaskInput } from './task.ts';

/** A task request the catalog accepted: its definition, the args `run` gets, and its canonical input. */
export interface PreparedTask {
  readonly definition: AnyTaskDefinition;
  /** The args as `run` receives them (the output of the task's schema). */
  readonly args: unknown;
  /** Name and args in their canonical wire form: what is stored, queued and digested. */
  readonly input: TaskInput;
  /** When a request asked to run it later (`runAt` or `delaySeconds`); not checked against the clock yet. */
  readonly runLater?: RunLater;
  /** Where to POST the task's end (a completion webhook); the address policy is the HTTP edge's to apply. */
  readonly callbackUrl?: string;
}

/** The request field that asks for a completion webhook, added to every task's request schema. */
export const CALLBACK_FIELDS = {
  callbackUrl: z.optional(
    z.string().check(
      z.minLength(1),
      z.maxLength(2048),
      z.meta({
        description:
          'POST the task here when it ends (SUCCESS, FAILURE or CANCELLED), signed per Standard Webhooks with your webhook secret. ' +
          'https, to a public address (the local stage also allows loopback). Overrides your default callbackUrl.',
        format: 'uri',
      }),
    ),
  ),
};

/** Why a request is not a task: an unknown name, or args its schema refuses. */
export interface RefusedTask {
  readonly code: 'unknown_task' | 'invalid_args';
  readonly message: string;
}

export type Prepared = { readonly ok: true; readonly task: PreparedTask } | { readonly ok: false; readonly refused: RefusedTask };

/** The queue and worker settings that follow from the tasks' limits (serverless.yml reads them). */
export interface QueueSettings {
  /** The worker Lambda's timeout: the longest task's limit, and time to record how it ended. */
  readonly workerTimeoutSeconds: number;
  /**
   * The task queue's visibility timeout: six times the worker's timeout, as AWS advises for an SQS
   * event source (a batch whose invocation is throttled and retried must not reappear meanwhile).
   * Should it be set shorter, a task that outlives it keeps its message hidden with a heartbeat.
   */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue: the most retries, plus three for outages. */
  readonly maxReceiveCount: number;
  /**
   * Records per worker invocation. The records of a batch run at once in one Lambda, sharing its
   * CPU while their time limits run on the wall clock: batches only while every task is quick.
   */
  readonly batchSize: number;
  /**
   * Seconds a task may stay open after it was queued before the sweeper queues it again: never
   * while a worker may still be running it (twice the worker's timeout), at least five minutes.
   */
  readonly sweepAfterSeconds: number;
}

/** Seconds the worker keeps, beyond a task's limit, to record its end. */
const END_MARGIN_SECONDS = 10;
const MIN_VISIBILITY_SECONDS = 60;
const VISIBILITY_PER_TIMEOUT = 6;
const OUTAGE_RECEIVES = 3;
/** The longest time limit for which tasks share an invocation. */
const QUICK_TASK_SECONDS = 30;
const MIN_SWEEP_AFTER_SECONDS = 300;

/**
 * The tasks doozer runs, and the one contract built from them: a request is `{name, args}`, a
 * discriminated union on `name` whose args are each task's schema. The API validates requests with
 * it at the edge, and the worker prepares the queued input with it again; both get the same answer.
 */
export class TaskCatalog {
  readonly #tasks: ReadonlyMap<string, AnyTaskDefinition>;
  readonly names: readonly string[];
  /** `{name, args, runAt?, delaySeconds?}` for every task: the body of `POST /tasks`. */
  readonly requestSchema: z.ZodMiniType;

  constructor(definitions: readonly TaskDefinition[]) {
    const tasks = new Map<string, AnyTaskDefinition>();
    for (const definition of definitions) {
      if (tasks.has(definition.name)) throw new TypeError(`two tasks are named ${JSON.stringify(definition.name)}`);
      tasks.set(definition.name, definition as AnyTaskDefinition);
    }
    if (tasks.size === 0) throw new TypeError('the catalog needs at least one task');
    this.#tasks = tasks;
    this.names = [...tasks.keys()];
    const known = `known tasks: ${this.names.join(', ')}`;
    const options = [...tasks.values()].map((task) =>
      z.strictObject({ name: z.literal(task.name), args: task.args, ...RUN_LATER_FIELDS, ...CALLBACK_FIELDS }).check(z.meta({ title: task.name, description: task.description })),
    );
    this.requestSchema = z.discriminatedUnion('name', options as unknown as [z.ZodMiniObject, ...z.ZodMiniObject[]], {
      error: (issue) => {
        const name = (issue.input as { name?: unknown } | undefined)?.name;
        if (name === undefined) return `name is required; ${known}`;
        if (typeof name !== 'string') return `name must be a string; ${known}`;
        return `unknown task ${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)}; ${known}`;
      },
    });
  }

  get(name: string): AnyTaskDefinition | undefined {
    return this.#tasks.get(name);
  }

  get definitions(): readonly AnyTaskDefinition[] {
    return [...this.#tasks.values()];
  }

  /**
   * Validates `{name, args}` against the task's schema and gives the args `run` gets and the
   * canonical input (`z.encode` of them, so `[1, "01"]` and `["1", 1]` are one input). A schema with
   * a one-way transform cannot encode; its input is kept as sent.
   */
  prepare(name: string, args: unknown): Prepared {
    const definition = this.#tasks.get(name);
    if (!definition) {
      const refused = { code: 'unknown_task', message: `unknown task ${JSON.stringify(name)}; known tasks: ${this.names.join(', ')}` } as const;
      return { ok: false, refused };
    }
    const parsed = definition.args.safeParse(args, { reportInput: true });
    if (!parsed.success) return { ok: false, refused: { code: 'invalid_args', message: describeIssues(parsed.error.issues, 'args') } };
    return { ok: true, task: { definition, args: parsed.data, input: { name, args: canonical(definition.args, parsed.data, args) } } };
  }

  /**
   * A whole request body: the same checks as `prepare`, plus the body's own shape (an object, no
   * unknown fields), each fault named (at most three).
   */
  prepareRequest(body: unknown): Prepared {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { ok: false, refused: { code: 'invalid_args', message: 'the body must be a JSON object: {"name": <task>, "args": <its args>}' } };
    }
    const parsed = this.requestSchema.safeParse(body, { reportInput: true });
    if (!parsed.success) {
      // No option matched the discriminator: the message (from the union's error) names the known tasks.
      const unknownName = parsed.error.issues.find((issue) => issue.code === 'invalid_union' && issue.path.join() === 'name');
      if (unknownName) {
        const named = typeof (body as { name?: unknown }).name === 'string';
        return { ok: false, refused: { code: named ? 'unknown_task' : 'invalid_args', message: unknownName.message } };
      }
      return { ok: false, refused: { code: 'invalid_args', message: describeIssues(parsed.error.issues) } };
    }
    const { name, args, runAt, delaySeconds, callbackUrl } = parsed.data as { name: string; args: unknown; callbackUrl?: string } & RunLater;
    const definition = this.#tasks.get(name)!;
    const sent = (body as { args: unknown }).args;
    const runLater = runAt !== undefined || delaySeconds !== undefined ? { runLater: { runAt, delaySeconds } } : {};
    const callback = callbackUrl !== undefined ? { callbackUrl } : {};
    return { ok: true, task: { definition, args, input: { name, args: canonical(definition.args, args, sent) }, ...runLater, ...callback } };
  }

  /** Worker timeout, visibility timeout and redrive, from the longest limit and the most retries. */
  queueSettings(): QueueSettings {
    const longest = Math.max(...this.definitions.map((task) => task.timeoutSeconds));
    const retries = Math.max(...this.definitions.map((task) => task.retries));
    const workerTimeoutSeconds = longest + END_MARGIN_SECONDS;
    return {
      workerTimeoutSeconds,
      visibilityTimeoutSeconds: Math.max(MIN_VISIBILITY_SECONDS, VISIBILITY_PER_TIMEOUT * workerTimeoutSeconds),
      maxReceiveCount: retries + OUTAGE_RECEIVES,
      batchSize: longest <= QUICK_TASK_SECONDS ? 10 : 1,
      sweepAfterSeconds: Math.max(MIN_SWEEP_AFTER_SECONDS, 2 * workerTimeoutSeconds),
    };
  }
}

function canonical(schema: z.ZodMiniType, decoded: unknown, sent: unknown): Json {
  try {
    return z.encode(schema, decoded) as Json;
  } catch {
    return sent as Json;
  }
}
