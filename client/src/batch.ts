import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES, MAX_NESTING, findDuplicateKey, nestingDepth } from '../../lib/http/json-limits.ts';
import { DoozerApiError, DoozerConnectionError } from './errors.ts';
import { InputError } from './input.ts';
import { oneLine, taskNote } from './task-table.ts';
import { type BatchItemResult, type TaskView, isTerminal } from './types.ts';

/**
 * `doozer batch`: a file of task requests, one JSON object a line, sent in chunks through
 * `POST /tasks/batch`, and one outcome per line. Reading, chunking and printing are here, without
 * I/O; the CLI gives `submitLines` the function that sends a chunk.
 */

/** `{"tasks":[` and `]}` around the items of a batch body. */
const ENVELOPE_BYTES = Buffer.byteLength('{"tasks":[]}');
/** The deepest a line may nest: a batch body's `{"tasks":[…]}` takes two of the API's levels. */
const MAX_LINE_NESTING = MAX_NESTING - 2;
/** The API's limit for an Idempotency-Key. */
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * Why a line got no task: the API's code and message, or one of the CLI's own (`invalid_json`,
 * `invalid_request` for a line the API would refuse with its whole chunk, `payload_too_large`,
 * `not_sent`, `unreachable`).
 */
export interface LineError {
  readonly code: string;
  readonly message: string;
  /** The HTTP status of the answer that refused the line's whole chunk (503, 401, 413, …); absent otherwise. */
  readonly status?: number;
}

/**
 * What a line that got no task calls for: fixing the line (`refused`: sending it again as it is
 * will not help), fixing the login (`auth`), or only sending it again later (`outage`).
 */
export type FailureKind = 'refused' | 'auth' | 'outage';

/** The codes of lines that were not accepted for an outage, not for anything in them. */
const OUTAGE_CODES: ReadonlySet<string> = new Set(['unavailable', 'unreachable', 'not_sent']);

/** What a line's error calls for: see FailureKind. */
export function failureKind(error: LineError): FailureKind {
  if (error.status === undefined) return OUTAGE_CODES.has(error.code) ? 'outage' : 'refused';
  return statusKind(error.status, error.code);
}

/**
 * What an error of the client calls for, or undefined for one that is not an answer of the service
 * (a bug). A 401 reaches here only once a fresh login failed too. A 429 (too many requests, too
 * many open tasks, or logins refused for a while) reaches here only still after the client's one
 * retry; like a 409 `request_in_progress` (another request with the same Idempotency-Key is still
 * being processed) it asks to try again later: nothing is wrong with the lines, and a wrong
 * password would have been a 401.
 */
export function errorKind(error: unknown): FailureKind | undefined {
  if (error instanceof DoozerConnectionError) return 'outage';
  if (error instanceof DoozerApiError) return statusKind(error.status, error.code);
  return undefined;
}

function statusKind(status: number, code: string): FailureKind {
  if (status === 401) return 'auth';
  if (status >= 500 || status === 429 || code === 'request_in_progress') return 'outage';
  return 'refused';
}

/**
 * A line of the file that holds something: its JSON text, to be sent as it is, or why it is not
 * sent.
 */
export type BatchLine = { readonly line: number; readonly json: string } | { readonly line: number; readonly error: LineError };

/** What became of one line: its task, or why it has none. */
export type LineOutcome = { readonly line: number; readonly task: TaskView } | { readonly line: number; readonly error: LineError };

/**
 * The lines of a batch file, numbered from 1 as an editor shows them; blank ones are skipped. Any
 * line that is JSON is kept as its own text, to go to the API as it is, for the API to judge (a
 * line that is not a task request gets the API's `invalid_request`; a number beyond the double
 * range its `got Infinity`). A line that is not JSON is kept as its error and not sent; so is one
 * the API would refuse together with every other line of its chunk, as the batch body's own fault:
 * a key given twice in one object, arrays and objects nested too deep, or more bytes than a batch
 * request holds.
 */
export function readBatchLines(text: string): BatchLine[] {
  const lines: BatchLine[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((content, index) => {
      if (content.trim() === '') return;
      const line = index + 1;
      // JSON.parse took it, so what trim() takes off either end is JSON's own whitespace.
      const json = content.trim();
      let parsed: unknown;
      try {
        parsed = JSON.parse(json);
      } catch (error) {
        // V8 repeats the input in some messages ('Unexpected token 'a', "abc" is not valid JSON').
        const reason = (error as Error).message.replace(/, ".*" is not valid JSON$/s, '');
        lines.push({ line, error: { code: 'invalid_json', message: `not JSON (${reason}); give one task request per line` } });
        return;
      }
      const fault = lineFault(json, parsed);
      lines.push(fault ? { line, error: fault } : { line, json });
    });
  return lines;
}

/** Why a line that is JSON cannot go in a batch without the API refusing its whole chunk; undefined when it can. */
function lineFault(json: string, parsed: unknown): LineError | undefined {
  const bytes = Buffer.byteLength(json);
  if (ENVELOPE_BYTES + bytes > MAX_BATCH_BODY_BYTES) {
    return {
      code: 'payload_too_large',
      message: `this line is ${bytes} bytes; a batch request holds at most 1 MiB (${MAX_BATCH_BODY_BYTES} bytes), so it was not sent (a task is at most ${MAX_BODY_BYTES / 1024} KiB)`,
    };
  }
  // The API refuses a body with a key given twice, or nested too deep, whole: judged per line here.
  const duplicate = findDuplicateKey(json, parsed);
  if (duplicate !== undefined) {
    const key = JSON.stringify(duplicate.length > 40 ? `${duplicate.slice(0, 40)}…` : duplicate);
    return { code: 'invalid_request', message: `the line has the key ${key} more than once in one object; give each key once (not sent)` };
  }
  if (nestingDepth(parsed, MAX_LINE_NESTING) > MAX_LINE_NESTING) {
    return { code: 'invalid_request', message: `the line nests arrays and objects more than ${MAX_LINE_NESTING} deep, too deep for a batch; flatten it (not sent)` };
  }
  return undefined;
}

/**
 * The lines' JSON texts in chunks the API takes: at most 100 each, and each body within 1 MiB,
 * counted in bytes of the texts as sent. The same lines always give the same chunks, so a chunk's
 * Idempotency-Key stands for the same tasks when the file is sent again. A text too large for any
 * batch goes alone (readBatchLines keeps such a line from being sent).
 */
export function chunkRequests<Item extends { readonly json: string }>(
  items: readonly Item[],
  { maxItems = MAX_BATCH_TASKS, maxBytes = MAX_BATCH_BODY_BYTES } = {},
): Item[][] {
  // {"tasks":[...]}: 12 bytes around the items, and a comma between each two.
  const chunks: Item[][] = [];
  let current: Item[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const item of items) {
    const size = Buffer.byteLength(item.json);
    const added = current.length === 0 ? size : size + 1;
    if (current.length > 0 && (current.length >= maxItems || bytes + added > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    bytes += current.length === 0 ? size : size + 1;
    current.push(item);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The Idempotency-Key of chunk `index` (from 0): the user's key, a dash, and the chunk's number from 1. */
export function chunkKey(key: string, index: number): string {
  return `${key}-${index + 1}`;
}

/** `--idempotency-key`: printable ASCII, short enough for the API once the chunk's number is added. */
export function checkIdempotencyKey(key: string, chunks: number): string {
  const room = MAX_IDEMPOTENCY_KEY_LENGTH - `-${chunks}`.length;
  if (!/^[\x20-\x7e]+$/.test(key) || key.length > room) {
    throw new InputError(`--idempotency-key must be 1 to ${room} printable ASCII characters (each chunk of 100 sends it with -1, -2, … added)`);
  }
  return key;
}

/** Sends one chunk's requests, each its line's JSON text; resolves with one result per request, in order. */
export type SendChunk = (requests: string[], index: number) => Promise<readonly BatchItemResult[]>;

/**
 * Sends every parsed line in chunks, one after another, and gives one outcome per line in the
 * file's order. A chunk the API refuses whole (a 4xx or 5xx) gives each of its lines that error, with
 * the status, and the next chunk is sent. When the service stops answering, that chunk's lines say so
 * (their tasks may or may not have been accepted) and the rest are not sent (`not_sent`); so too
 * when authentication fails (a 401 even after logging in again): every chunk after would fail the
 * same way, and each would try the password again; and when the service refuses too many requests
 * (a 429 still after the client's retry): the chunks after would only add to them. Any other error
 * is thrown.
 * `onProgress` hears how many lines are settled after each chunk.
 */
export async function submitLines(lines: readonly BatchLine[], send: SendChunk, onProgress?: (settled: number) => void): Promise<LineOutcome[]> {
  const outcomes = new Map<number, LineOutcome>();
  const requests = lines.filter((line): line is Extract<BatchLine, { json: string }> => 'json' in line);
  for (const line of lines) if ('error' in line) outcomes.set(line.line, line);
  const chunks = chunkRequests(requests);
  let stopped: LineError | undefined;
  for (const [index, chunk] of chunks.entries()) {
    if (stopped) {
      for (const { line } of chunk) outcomes.set(line, { line, error: stopped });
      continue;
    }
    try {
      const results = await send(
        chunk.map((item) => item.json),
        index,
      );
      chunk.forEach(({ line }, position) => {
        const result = results[position];
        outcomes.set(line, result?.task ? { line, task: result.task } : { line, error: result?.error ?? { code: 'invalid_response', message: 'no result for this line' } });
      });
    } catch (error) {
      if (error instanceof DoozerConnectionError) {
        const unknown = { code: error.code, message: `${error.message}; these tasks may or may not have been accepted` };
        for (const { line } of chunk) outcomes.set(line, { line, error: unknown });
        stopped = { code: 'not_sent', message: `not sent: the service stopped answering (${error.message})` };
      } else if (error instanceof DoozerApiError) {
        for (const { line } of chunk) outcomes.set(line, { line, error: { code: error.code, message: error.message, status: error.status } });
        if (errorKind(error) === 'auth') stopped = { code: 'not_sent', message: `not sent: authentication failed (${error.message})` };
        if (error.status === 429) stopped = { code: 'not_sent', message: `not sent: the service refused too many requests (${error.message})` };
      } else {
        throw error;
      }
    }
    onProgress?.(outcomes.size);
  }
  return lines.map((line) => outcomes.get(line.line)!);
}

/**
 * True for a task set to run after `deadline` (epoch ms): `--wait` does not wait for it, since it
 * cannot end in time; it counts as accepted, not as still open.
 */
export function runsAfter(task: TaskView, deadline: number): boolean {
  return !isTerminal(task) && task.runAt !== undefined && Date.parse(task.runAt) > deadline;
}

/**
 * With `--wait`: each accepted task as it is once it ended, or as last seen when `waitFor` gave up
 * on it. Tasks set to run after `deadline` are left as they are (see runsAfter). At most
 * `concurrency` tasks are waited for at once; `onProgress` hears how many of those waited for have
 * ended. `waitFor` is given each task as submitted, to return when it cannot follow it further.
 */
export async function waitForOutcomes(
  outcomes: readonly LineOutcome[],
  waitFor: (id: string, task: TaskView) => Promise<TaskView>,
  {
    concurrency = 4,
    deadline = Number.POSITIVE_INFINITY,
    onProgress,
  }: { concurrency?: number; deadline?: number; onProgress?: (ended: number, of: number) => void } = {},
): Promise<LineOutcome[]> {
  const result = [...outcomes];
  const waited = result.filter((outcome) => 'task' in outcome && !runsAfter(outcome.task, deadline));
  const open = result.flatMap((outcome, index) => ('task' in outcome && !isTerminal(outcome.task) && !runsAfter(outcome.task, deadline) ? [index] : []));
  let ended = waited.length - open.length;
  onProgress?.(ended, waited.length);
  let next = 0;
  const worker = async () => {
    while (next < open.length) {
      const index = open[next++]!;
      const { line, task } = result[index] as Extract<LineOutcome, { task: TaskView }>;
      const last = await waitFor(task.id, task);
      result[index] = { line, task: last };
      if (isTerminal(last)) onProgress?.(++ended, waited.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, open.length) }, worker));
  return result;
}

/** What a batch came to: what its lines call for (FailureKind), tasks still open, or all done. */
export type BatchVerdict = FailureKind | 'open' | 'done';

/**
 * What a batch came to, the first that applies (the CLI's exit code): `auth` when authentication
 * failed (the lines after it were not sent, and nothing goes through until the login is fixed);
 * `refused` when a line was refused for something in it, or a task failed or was cancelled
 * (sending it again as it is will not help); `outage` when lines were not accepted only for outages,
 * or the wait was cut short by one (nothing is wrong with them: send them again later); `open`, after
 * a wait, when tasks waited for were still open at `deadline` (not those set to run after it); else
 * `done`. `stoppedBy` is what cut the wait short, if anything did.
 */
export function batchVerdict(
  outcomes: readonly LineOutcome[],
  { waited = false, deadline = Number.POSITIVE_INFINITY, stoppedBy }: { waited?: boolean; deadline?: number; stoppedBy?: FailureKind } = {},
): BatchVerdict {
  const kinds = new Set<FailureKind>(outcomes.flatMap((outcome) => ('error' in outcome ? [failureKind(outcome.error)] : [])));
  if (stoppedBy) kinds.add(stoppedBy);
  const tasks = outcomes.flatMap((outcome) => ('task' in outcome ? [outcome.task] : []));
  if (tasks.some((task) => task.state === 'FAILURE' || task.state === 'CANCELLED')) kinds.add('refused');
  for (const kind of ['auth', 'refused', 'outage'] as const) if (kinds.has(kind)) return kind;
  if (waited && tasks.some((task) => !isTerminal(task) && !runsAfter(task, deadline))) return 'open';
  return 'done';
}

/**
 * One outcome as a line of text: `line 3  task_…  PENDING`, with what the list's last column would
 * say of the task (`runs in 18m`; after --wait its result, or `code: message`), or
 * `line 4  error invalid_request: args[0] must be an integer`. Line numbers are padded to
 * `numberWidth`, so the columns line up.
 */
export function formatOutcome(outcome: LineOutcome, { now, numberWidth }: { now: number; numberWidth: number }): string {
  const label = `line ${String(outcome.line).padStart(numberWidth)}`;
  if ('error' in outcome) return `${label}  error ${outcome.error.code}: ${oneLine(outcome.error.message)}`;
  const note = taskNote(outcome.task, now);
  return `${label}  ${outcome.task.id}  ${outcome.task.state}${note === '' ? '' : `  ${note}`}`;
}

/** What stopped a --wait before its deadline: an outage, or a login that failed, with its message. */
export interface WaitStop {
  readonly kind: FailureKind;
  readonly error: Error;
}

/**
 * The lines for stderr after the outcomes: why lines were not accepted (a failed login, or outages,
 * which may be sent again as they are), and what became of the wait: cut short by `stopped`, or run
 * out after `timeoutSeconds` with tasks still open (not those set to run after `deadline`).
 */
export function batchNotes(
  outcomes: readonly LineOutcome[],
  { wait, stopped }: { wait?: { timeoutSeconds: number; deadline: number }; stopped?: WaitStop | undefined } = {},
): string[] {
  const notes: string[] = [];
  const errors = outcomes.flatMap((outcome) => ('error' in outcome ? [outcome.error] : []));
  const authError = errors.find((error) => failureKind(error) === 'auth');
  const outages = errors.filter((error) => failureKind(error) === 'outage').length;
  if (authError) {
    notes.push(`doozer: authentication failed: ${authError.message}. Check --username/--password (or DOOZER_USERNAME/DOOZER_PASSWORD, or the config file); the lines after it were not sent.`);
  } else if (outages > 0) {
    const [count, them] = outages === 1 ? ['1 line was', 'it'] : [`${outages} lines were`, 'them'];
    const maybe = errors.some((error) => error.code === 'unreachable') ? ' (those unreachable may have been accepted: --idempotency-key makes that safe)' : '';
    notes.push(`doozer: ${count} not accepted for an outage (unavailable, too_many_requests, unreachable or not_sent); nothing is wrong with ${them}: send ${them} again later${maybe}.`);
  }
  if (stopped) {
    const why = stopped.kind === 'auth' ? `authentication failed: ${stopped.error.message} (check --username/--password)` : stopped.error.message;
    notes.push(`doozer: stopped waiting: ${why}; the tasks were accepted: see how they end with: doozer list, or doozer lookup <id>`);
  } else if (wait) {
    const open = outcomes.filter((outcome) => 'task' in outcome && !isTerminal(outcome.task) && !runsAfter(outcome.task, wait.deadline)).length;
    if (open > 0) notes.push(`${open} of the tasks still open after ${wait.timeoutSeconds} s; see how they end with: doozer list, or doozer lookup <id>`);
  }
  return notes;
}
