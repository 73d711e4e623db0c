/**
 * `batch`: the task requests of a file (or standard input), one JSON object a line, sent in chunks;
 * one outcome a line, and an exit code that says what the lines call for (see batchVerdict).
 */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import {
  type BatchVerdict,
  type LineOutcome,
  type WaitStop,
  batchNotes,
  batchVerdict,
  checkIdempotencyKey,
  chunkKey,
  chunkRequests,
  errorKind,
  formatOutcome,
  readBatchLines,
  submitLines,
  waitForOutcomes,
} from '../../batch.ts';
import { InputError, clip } from '../../input.ts';
import { percent, progressBar } from '../../progress.ts';
import { startSpinner } from '../../spinner.ts';
import type { TaskView } from '../../types.ts';
import type { CliContext, GlobalOptions } from '../context.ts';
import { EXIT } from '../failures.ts';
import { EXIT_CODES_HELP } from '../help.ts';
import type { WaitFlags } from '../task-output.ts';
import { positiveSeconds } from './submit.ts';

/** The exit code of each way `doozer batch` can end (see batchVerdict). */
const BATCH_EXIT: Readonly<Record<BatchVerdict, number>> = {
  auth: EXIT.auth,
  refused: EXIT.taskFailed,
  outage: EXIT.unavailable,
  open: EXIT.waitTimedOut,
  done: EXIT.done,
};

const BATCH_HELP =
  `\nExamples:\n  doozer batch tasks.jsonl\n  printf '%s\\n' '{"name":"add","args":[1,2]}' '{"name":"sleep","args":{"ms":500},"delaySeconds":60}' | doozer batch -\n\n` +
    `Each line is a request as POST /tasks takes it: {"name":"add","args":[1,2]}, with "runAt" (an\n` +
    `ISO time with a zone) or "delaySeconds" to run it later, and "callbackUrl" to have the service\n` +
    `POST the task to that URL when it ends (as --callback does; the service judges the URL: a bad\n` +
    `one is that line's invalid_request). Blank lines are skipped. A line that is\n` +
    `not JSON is not sent, nor one the service would refuse with all the lines sent with it: a key\n` +
    `given twice in one object, or over 1 MiB. The rest go as they are, each line's own text, in\n` +
    `chunks of up to 100 (POST /tasks/batch), with a progress bar on stderr on a terminal, and doozer\n` +
    `prints one line per request, in the file's order:\n` +
    `  line 1  task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006  PENDING\n` +
    `  line 2  error invalid_request: args[0] must be an integer\n` +
    `--json prints one JSON object per line instead: {"line":1,"task":{...}} or {"line":2,"error":{...}}\n` +
    `(the error with the HTTP "status" when the service refused the line's whole chunk).\n` +
    `\n` +
    `Without --wait, doozer does not wait for the tasks (doozer list and doozer lookup show how they\n` +
    `end). With --wait, it waits up to --timeout seconds from its start, then prints each task as it\n` +
    `ended, with its result or error:\n` +
    `  line 1  task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006  SUCCESS  3\n` +
    `A task set to run after --timeout runs out (its runAt or delaySeconds beyond it) could not end in\n` +
    `time, so it is not waited for: it is printed as accepted, with when it runs, and counts as\n` +
    `accepted, not as still open; a task due before then is waited for like any other:\n` +
    `  line 2  task_bfc90acf-3035-4e87-b602-3c7cc166de38  SCHEDULED  runs in 20m\n` +
    `\n` +
    `With --idempotency-key, the same file sent again (after no answer, say) makes no task twice: each\n` +
    `chunk answers as it did the first time. Lines refused "unavailable" may be sent again, in a file\n` +
    `of their own.\n` +
    `\n` +
    `Exit codes of batch, the first that applies (2, a usage error, comes before anything is sent):\n` +
    `  3  authentication failed mid-batch (a chunk answered 401 even after logging in again): the\n` +
    `     lines after it were not sent (not_sent); none will go through until the login is fixed\n` +
    `  1  a line was refused for something in it (invalid_json, invalid_request, unknown_task,\n` +
    `     payload_too_large, a chunk answered another 4xx), or a task failed or was cancelled\n` +
    `  4  lines were not accepted only for outages: refused unavailable, in a chunk answered 5xx,\n` +
    `     409 request_in_progress or 429 too_many_requests (still after one retry; the lines after\n` +
    `     it are not sent), unreachable (those may have been accepted) or not_sent after the service\n` +
    `     stopped answering or refused too many requests; or it stopped answering during --wait\n` +
    `  5  every line was accepted, and --wait ran out with tasks still open\n` +
    `  0  every line was accepted (with --wait: every task waited for succeeded)\n` +
    `So 4 always means nothing is wrong with the lines: a script may send those not accepted again\n` +
    `later, unattended. A line's own fault wins over an outage because sending it again as it is will\n` +
    `not help: 1 needs a person to fix the file (a loop retrying on it would never end). A failed\n` +
    `login comes first: until it is fixed nothing goes through, and the lines after it went unjudged.\n${EXIT_CODES_HELP}`;

export function registerBatchCommand(program: Command, context: CliContext): void {
  program
    .command('batch')
    .description('Submit the tasks of a file, one JSON request a line.')
    .argument('<file>', 'the file, or - for standard input')
    .option('--idempotency-key <key>', 'makes the batch safe to send again: each chunk of 100 goes with <key>-1, <key>-2, …')
    .option('--wait', 'wait for the tasks to end, then print each with its result or error')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds, 60)
    .addHelpText('after', BATCH_HELP)
    .action(async (file: string, flags: WaitFlags & { idempotencyKey?: string }, command: Command) => {
      const startedAt = Date.now();
      if (file === '-' && command.optsWithGlobals<GlobalOptions>().passwordStdin) {
        throw new InputError('batch - and --password-stdin both read standard input; give the password another way');
      }
      const lines = readBatchLines(await readInput(file));
      if (lines.length === 0) throw new InputError(`${file === '-' ? 'standard input' : clip(file)} holds no task requests (blank lines are skipped)`);
      const key = flags.idempotencyKey;
      if (key !== undefined) checkIdempotencyKey(key, chunkRequests(lines.filter((line) => 'json' in line)).length);
      const { client } = await context.connect(command);
      // Log in first: a wrong password or an unreachable service is then reported as such, before any line.
      await client.token();
      const deadline = startedAt + flags.timeout * 1000;
      const spinner = startSpinner(process.stderr, batchProgress(0, lines.length, 'lines sent'));
      let waitStopped: WaitStop | undefined;
      let outcomes: LineOutcome[];
      try {
        outcomes = await submitLines(
          lines,
          async (requests, index) => (await client.submitBatchJson(requests, key === undefined ? {} : { idempotencyKey: chunkKey(key, index) })).results,
          (settled) => spinner.update(batchProgress(settled, lines.length, 'lines sent')),
        );
        if (flags.wait) {
          const waitFor = async (id: string, task: TaskView) => {
            if (waitStopped) return task;
            try {
              return await client.waitFor(id, { timeoutMs: Math.max(0, deadline - Date.now()) });
            } catch (error) {
              const kind = errorKind(error);
              if (kind === undefined || kind === 'refused') throw error;
              waitStopped ??= { kind, error: error as Error };
              return task;
            }
          };
          outcomes = await waitForOutcomes(outcomes, waitFor, { deadline, onProgress: (ended, of) => spinner.update(batchProgress(ended, of, 'tasks ended')) });
        }
      } finally {
        spinner.stop();
      }
      const { output } = context;
      const now = Date.now();
      const numberWidth = String(lines.at(-1)!.line).length;
      for (const outcome of outcomes) output.out(output.json ? JSON.stringify(outcome) : formatOutcome(outcome, { now, numberWidth }));
      const notes = batchNotes(outcomes, { ...(flags.wait && { wait: { timeoutSeconds: flags.timeout, deadline } }), stopped: waitStopped });
      for (const note of notes) output.err(note);
      context.exitCode = BATCH_EXIT[batchVerdict(outcomes, { waited: flags.wait === true, deadline, ...(waitStopped && { stoppedBy: waitStopped.kind }) })];
    });
}

/** The progress line of `doozer batch` on a terminal. */
function batchProgress(done: number, total: number, what: string): string {
  const fraction = total === 0 ? 1 : done / total;
  return `${progressBar(fraction)} ${String(percent(fraction)).padStart(3)}%  ${done}/${total} ${what}`;
}

/** A batch file's text, or standard input's for `-`; a file that cannot be read is a usage error. */
async function readInput(file: string): Promise<string> {
  if (file === '-') return text(process.stdin);
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const name = clip(file);
    if (code === 'ENOENT') throw new InputError(`no such file: ${name}`);
    if (code === 'EISDIR') throw new InputError(`${name} is a directory; give a file of one task request a line, or - for standard input`);
    if (code === 'EACCES' || code === 'EPERM') throw new InputError(`cannot read ${name}: permission denied`);
    throw new InputError(`cannot read ${name}: ${code ?? (error as Error).message}`);
  }
}
