/**
 * The `doozer` command: parses arguments, calls DoozerClient, prints. Commands and output follow
 * the original Go client (`Result: 21`, `Status : PENDING`), so its users feel at home.
 */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { Command, CommanderError, Help, InvalidArgumentError, Option } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import {
  type BatchVerdict,
  type FailureKind,
  type LineOutcome,
  batchVerdict,
  checkIdempotencyKey,
  chunkKey,
  chunkRequests,
  errorKind,
  failureKind,
  formatOutcome,
  readBatchLines,
  runsAfter,
  submitLines,
  waitForOutcomes,
} from './batch.ts';
import { type CallbackOptions, DoozerClient, type RateLimitRetry, RawJson, type RunLaterOptions, type RunOptions } from './doozer-client.ts';
import { DoozerApiError, DoozerConnectionError, DoozerRateLimitError, DoozerTaskEndedError } from './errors.ts';
import {
  InputError,
  checkDelayWords,
  parseCallbackUrl,
  parseDelay,
  parseIntegers,
  parseListLimit,
  parseRunArgs,
  parseRunAt,
  parseState,
  parseTaskIdArgs,
} from './input.ts';
import { percent, progressBar, startProgress } from './progress.ts';
import { SettingsError, resolveSettings } from './settings.ts';
import { startSpinner } from './spinner.ts';
import { formatResult, formatTaskTable, formatWebhook, roughDuration } from './task-table.ts';
import { formatTaskTypes } from './task-types.ts';
import { FileTokenCache } from './token-cache.ts';
import { type TaskName, type TaskPage, type TaskView, isTerminal } from './types.ts';

export const EXIT = { done: 0, taskFailed: 1, usage: 2, auth: 3, unavailable: 4, waitTimedOut: 5 } as const;

const EXIT_CODES_HELP = `
Exit codes:
  0  done (or deferred, without --wait; or set to run later)
  1  the task failed or was cancelled, no such task, a task to cancel had ended,
     or a batch line was refused for something in it
  2  usage error: a bad flag, number, JSON or setting, or args the service refused
  3  authentication failed, or logins refused for a while (too many wrong passwords)
  4  the service is unreachable or answered 5xx, or 429 (too many requests) still
     after one retry or asking to wait over 5 s (batch: lines refused only for those)
  5  deferred, and --wait timed out`;

/** The longest Retry-After of a 429 that doozer waits out (once) before it gives up. */
const MAX_RATE_LIMIT_WAIT_SECONDS = 5;

/** The exit code of each way `doozer batch` can end (see batchVerdict). */
const BATCH_EXIT: Readonly<Record<BatchVerdict, number>> = {
  auth: EXIT.auth,
  refused: EXIT.taskFailed,
  outage: EXIT.unavailable,
  open: EXIT.waitTimedOut,
  done: EXIT.done,
};

const ROOT_HELP = `Simple client to interact with the doozer API service.

Usage:
  doozer
  doozer [command]

Available Commands:
  add         Add api call.
  batch       Submit the tasks of a file, one JSON request a line.
  cancel      Cancel a task that has not ended.
  help        Help about any command
  list        List your tasks, newest first.
  lookup      Lookup a task uuid.
  mul         Multiply api call.
  run         Run a task with its args.
  tasks       List the task types and their args.
  token       Print a JWT token.
  version     Print the version.

Flags:
      --url <url>            API URL (DOOZER_URL; default http://127.0.0.1:3000)
      --username <name>      user (DOOZER_USERNAME; default doozer)
      --password <password>  password (DOOZER_PASSWORD; default doozer); visible in process
                             listings, so prefer DOOZER_PASSWORD or --password-stdin
      --password-stdin       read the password from standard input
      --json                 print the API's JSON instead of text
  -h, --help                 help for doozer

Settings come from flags, then the environment, then $XDG_CONFIG_HOME/doozer/config.json
({"url","username","password"}), then the defaults for the local stack (npm start).

A request refused with 429 (too many requests) and a Retry-After of up to 5 s is sent once
more after that wait, with a note on stderr (safe for a submission too: a 429 comes before
anything is recorded). A longer wait or a second 429 ends the command: exit 4 (3 at login).
${EXIT_CODES_HELP}

Use "doozer [command] --help" for more information about a command.
`;

interface GlobalOptions {
  url?: string;
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

interface WaitFlags {
  wait?: boolean;
  /** Seconds, parsed and checked before anything is sent. */
  timeout: number;
}

/** `--at`, `--in` and `--callback` of add, mul and run, as given. */
interface LaterFlags {
  at?: string;
  in?: string;
  callback?: string;
}

/** The run-later fields of the request, checked before anything is sent; empty to run now. */
function runLater(flags: LaterFlags): RunLaterOptions {
  if (flags.at !== undefined) return { runAt: parseRunAt(flags.at) };
  if (flags.in !== undefined) return { delaySeconds: parseDelay(flags.in) };
  return {};
}

const AT_HELP = 'run it at this time instead of now, without waiting: ISO 8601 with Z or an offset (2026-12-01T18:30Z), or without one for local time';
const IN_HELP = 'run it after this delay instead of now, without waiting: 90s, 20m, 2h, 1d, 1h30m, or seconds';

/** The completion webhook of the request, checked before anything is sent; empty for none. */
function callback(flags: LaterFlags): CallbackOptions {
  return flags.callback === undefined ? {} : { callbackUrl: parseCallbackUrl(flags.callback) };
}

const CALLBACK_HELP = 'when the task ends, the service POSTs its JSON (a signed Standard Webhook) to this http(s) URL';

/** `--at` and `--in`: either, not both, and not with --wait (a task to run later is not waited for). */
const atOption = () => new Option('--at <time>', AT_HELP).conflicts(['in', 'wait']);
const inOption = () => new Option('--in <duration>', IN_HELP).conflicts('wait');

const LATER_HELP = `
--at and --in set the task to run later, up to 7 days ahead: it is accepted at once (SCHEDULED, or
PENDING with its time when it runs within 15 minutes), and doozer prints it without waiting. A time
without a zone is this machine's local time (TZ); one with Z or an offset is that zone's.

--callback <url> has the service POST the task's JSON to <url> when the task ends, signed the
Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature headers), and retried
while the receiver does not answer 2xx; verifyWebhook of the doozer-cli package checks one.
doozer lookup shows how the delivery went (Webhook : delivered (1 attempt, HTTP 204)). The URL
must be absolute http or https; anything else is refused before anything is sent (exit 2).`;

function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0)) {
    throw new InvalidArgumentError(`expected a positive number of seconds, got ${JSON.stringify(value)}`);
  }
  return seconds;
}

/**
 * With --wait, the longest the API holds one request, in seconds: it answers early only when the
 * task ends, so a short hold shows progress about every second.
 */
const POLL_SECONDS = 1;

/** How long the API may hold the submission: with --wait, never longer than the whole run may take. */
function serverWait(flags: WaitFlags): number | undefined {
  return flags.wait ? Math.min(POLL_SECONDS, Math.floor(flags.timeout)) : undefined;
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export async function main(argv: readonly string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let exitCode: number = EXIT.done;

  const program = new Command('doozer')
    .description('Simple client to interact with the doozer API service.')
    .addOption(new Option('--url <url>', 'API URL'))
    .addOption(new Option('--username <name>', 'user'))
    .addOption(new Option('--password <password>', 'password (prefer DOOZER_PASSWORD or --password-stdin)'))
    .addOption(new Option('--password-stdin', 'read the password from standard input').conflicts('password'))
    .addOption(new Option('--json', "print the API's JSON instead of text"))
    .helpCommand('help [command]', 'Help about any command')
    .showHelpAfterError('(run "doozer help" for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  program.configureHelp({
    showGlobalOptions: true,
    formatHelp: (command, helper) => (command === program ? ROOT_HELP : Help.prototype.formatHelp.call(helper, command, helper)),
  });

  const client = async (command: Command) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const password = options.passwordStdin ? await readPassword() : options.password;
    const settings = await resolveSettings({
      flags: { url: options.url, username: options.username, password },
      env: process.env,
    });
    return {
      json: options.json === true,
      settings,
      client: new DoozerClient({
        ...settings,
        retryOn429: { maxWaitSeconds: MAX_RATE_LIMIT_WAIT_SECONDS, onRetry: (retry) => err(`doozer: ${describeRetry(retry)}`) },
        tokenCache: new FileTokenCache(settings.tokenCachePath, (error) =>
          err(`doozer: warning: the token cache ${settings.tokenCachePath} cannot be written (${error.message}); continuing without it`),
        ),
      }),
    };
  };

  const printTask = (task: TaskView, json: boolean, format: 'result' | 'status'): number => {
    if (json) out(JSON.stringify(task, null, 2));
    else if (format === 'status') {
      out(`Status : ${task.state}`);
      // The next two only for a task still to run that was set to run later, or has said how far it
      // is: the original's lines stay as they were.
      if (!isTerminal(task) && task.runAt !== undefined) out(`Run at : ${task.runAt}${relative(task.runAt)}`);
      if (!isTerminal(task) && task.progress) {
        out(`Progress : ${percent(task.progress.fraction)}%${task.progress.message ? ` ${task.progress.message}` : ''}`);
      }
      if (task.state === 'SUCCESS') out(`Result : ${formatResult(task.result)}`);
      if (task.state === 'FAILURE') out(`Error : ${task.error?.message ?? 'unknown error'}`);
      if (task.webhook) out(`Webhook : ${formatWebhook(task.webhook, Date.now())}`);
    } else if (task.state === 'SUCCESS') out(`Result: ${formatResult(task.result)}`);
    else if (!isTerminal(task)) out(`Deferred! ${task.id}`);
    // With --callback: the id to look the delivery up by (a deferred task's line already has it).
    if (!json && format === 'result' && task.callbackUrl !== undefined && isTerminal(task)) {
      out(`Webhook: ${task.callbackUrl} (doozer lookup ${task.id} shows the delivery)`);
    }
    if (task.state === 'FAILURE') {
      if (!json && format === 'result') err(`Failed! ${task.id}: ${task.error?.message ?? 'unknown error'} (${task.error?.code ?? 'unknown'})`);
      return EXIT.taskFailed;
    }
    if (task.state === 'CANCELLED') {
      if (!json && format === 'result') err(`Cancelled! ${task.id}`);
      return EXIT.taskFailed;
    }
    return EXIT.done;
  };

  /** ` (in 18m)` for a time to come, nothing for one past. */
  const relative = (time: string): string => {
    const seconds = (Date.parse(time) - Date.now()) / 1000;
    return seconds > 0 ? ` (in ${roughDuration(seconds)})` : '';
  };

  /** A task accepted to run later: its id, state and time. */
  const printLater = (task: TaskView, json: boolean): number => {
    if (json) out(JSON.stringify(task, null, 2));
    else {
      out(`Scheduled! ${task.id}`);
      printTask(task, false, 'status');
    }
    return EXIT.done;
  };

  /**
   * Polls until the task ends or the --timeout that started counting at `startedAt` runs out,
   * showing its progress on stderr.
   */
  const waitFor = async (client: DoozerClient, task: TaskView, flags: WaitFlags, startedAt: number): Promise<TaskView> => {
    const progress = startProgress(process.stderr, task);
    try {
      const timeoutMs = Math.max(0, startedAt + flags.timeout * 1000 - Date.now());
      return await client.waitFor(task.id, { timeoutMs, pollSeconds: POLL_SECONDS, onProgress: (view) => progress.update(view) });
    } finally {
      progress.stop();
    }
  };

  const finish = (task: TaskView, flags: WaitFlags, json: boolean, format: 'result' | 'status'): number => {
    const code = printTask(task, json, format);
    if (flags.wait && !isTerminal(task)) {
      err(`${task.id} is still ${task.state} after ${flags.timeout} s; look it up later with: doozer lookup --uuid=${task.id}`);
      return EXIT.waitTimedOut;
    }
    return code;
  };

  /**
   * Submits with `send` and reports the task: at once, for a task to run later (`later`); else
   * waited for as the flags ask, then printed with its result.
   */
  const submitAndReport = async (
    doozer: DoozerClient,
    send: (options: RunOptions) => Promise<{ task: TaskView }>,
    later: RunLaterOptions,
    hook: CallbackOptions,
    flags: WaitFlags,
    json: boolean,
  ): Promise<number> => {
    if (later.runAt !== undefined || later.delaySeconds !== undefined) return printLater((await send({ ...later, ...hook })).task, json);
    const startedAt = Date.now();
    const wait = serverWait(flags);
    const { task } = await send({ ...(wait !== undefined && { wait }), ...hook });
    const final = flags.wait && !isTerminal(task) ? await waitFor(doozer, task, flags, startedAt) : task;
    return finish(final, flags, json, 'result');
  };

  for (const [name, summary, example] of [
    ['add', 'Add api call.', 'doozer add --i 1,2,3,4,5,6'],
    ['mul', 'Multiply api call.', 'doozer mul --i 2,3,4'],
  ] as const) {
    program
      .command(name)
      .description(`${summary} Integers of any size up to 1,000 digits, as --i lists or arguments.`)
      .argument('[integers...]', 'integers to send (put negative ones after --, or use --i)')
      .option('--i <list>', 'comma-separated integers, e.g. 1,2,3 (repeatable)', collect)
      .option('--wait', 'keep polling until the task ends, showing its progress on stderr')
      .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds, 60)
      .addOption(atOption())
      .addOption(inOption())
      .option('--callback <url>', CALLBACK_HELP)
      .addHelpText(
        'after',
        `\nExamples:\n  ${example}\n  ${example} --in 20m\n  ${example} --callback https://example.com/hooks/doozer\n${LATER_HELP}\n${EXIT_CODES_HELP}`,
      )
      .action(async (positional: string[], flags: WaitFlags & LaterFlags & { i?: string[] }, command: Command) => {
        const args = parseIntegers(name, flags.i ?? [], positional);
        const later = runLater(flags);
        const hook = callback(flags);
        const { client: doozer, json } = await client(command);
        exitCode = await submitAndReport(doozer, (options) => doozer.submit(name as TaskName, args, options), later, hook, flags, json);
      });
  }

  program
    .command('lookup')
    .description('Lookup a task uuid.')
    .argument('[id]', 'the task id (or use --uuid)')
    .option('--uuid <id>', 'the task id, task_<uuid>')
    .option('--wait', 'keep polling until the task ends, showing its progress on stderr')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds, 60)
    .addHelpText('after', `\nExample:\n  doozer lookup --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006\n${EXIT_CODES_HELP}`)
    .action(async (positional: string | undefined, flags: WaitFlags & { uuid?: string }, command: Command) => {
      const id = parseTaskIdArgs(positional, flags.uuid);
      const { client: doozer, json } = await client(command);
      const startedAt = Date.now();
      const task = await doozer.get(id);
      const final = flags.wait && !isTerminal(task) ? await waitFor(doozer, task, flags, startedAt) : task;
      exitCode = finish(final, flags, json, 'status');
    });

  program
    .command('run')
    .description('Run a task: doozer run <task> [args as JSON, or --arg key=value ...].')
    .argument('<task>', 'the task type (doozer tasks lists them)')
    .argument('[args]', `the args as one JSON value, e.g. '{"ms":3000}' or '[1,2,3]'`)
    .option('--arg <key=value>', 'one field of the args, which are then an object (repeatable); the value is read as JSON when it is JSON, else as text', collect)
    .option('--wait', 'keep polling until the task ends, showing its progress on stderr (a bar on a terminal)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds, 60)
    .addOption(atOption())
    .addOption(inOption())
    .option('--callback <url>', CALLBACK_HELP)
    .addHelpText(
      'after',
      `\nExamples:\n  doozer run sleep '{"ms":3000}'\n  doozer run sleep --arg ms=3000 --wait\n  doozer run add '[1,2,3]'\n` +
        `  doozer run primes --arg below=100000000 --wait --timeout 120\n` +
        `  doozer run primes --arg below=1000 --at 2026-12-01T18:30Z\n` +
        `  doozer run primes --arg below=1000000 --callback https://example.com/hooks/doozer\n\n` +
        `An --arg value is JSON when it reads as JSON (ms=3000 is a number), else text; quote text that\n` +
        `reads as JSON: --arg 'label="42"'.\n${LATER_HELP}\n${EXIT_CODES_HELP}`,
    )
    .action(async (name: string, json: string | undefined, flags: WaitFlags & LaterFlags & { arg?: string[] }, command: Command) => {
      const parsed = parseRunArgs(name, json, flags.arg ?? []);
      // Args typed as one JSON value go as typed: the API judges exactly them (a key given twice, 1e400).
      const args = json !== undefined ? new RawJson(json) : parsed;
      const later = runLater(flags);
      const hook = callback(flags);
      const { client: doozer, json: printJson } = await client(command);
      const send = (options: RunOptions) =>
        doozer.run(name, args, options).catch((error: unknown) => {
          throw withTasksHint(error, name);
        });
      exitCode = await submitAndReport(doozer, send, later, hook, flags, printJson);
    });

  program
    .command('list')
    .description('List your tasks, newest first.')
    .option('--state <state>', 'only tasks in this state: SCHEDULED, PENDING, RETRY, SUCCESS, FAILURE or CANCELLED (any case)')
    .option('--name <task>', 'only tasks of this type, e.g. sleep')
    .option('--limit <count>', 'how many tasks to show, 1 to 1000; pages of up to 100 are fetched as needed', '20')
    .option('--cursor <next>', 'start after the tasks a listing ended with: the "next" that --json prints, or that a cut listing names')
    .addHelpText(
      'after',
      `\nExamples:\n  doozer list\n  doozer list --state failure --limit 100\n  doozer list --name sleep --json\n\n` +
        `Columns: id, task name, state, age (since it was created: 12s, 5m, 3h, 2d), and its result, its\n` +
        `error (code: message), when it runs (runs in 18m) or how far it is, cut to the terminal's width\n` +
        `(120 columns when not a terminal). --json prints {"tasks":[...],"next":...} as the API gives it\n` +
        `(the pages joined, for --limit over 100): next, when not null, continues with --cursor.\n${EXIT_CODES_HELP}`,
    )
    .action(async (flags: { state?: string; name?: string; limit: string; cursor?: string }, command: Command) => {
      const state = flags.state === undefined ? undefined : parseState(flags.state);
      const limit = parseListLimit(flags.limit);
      const { client: doozer, json } = await client(command);
      const tasks: TaskView[] = [];
      let next: string | null = flags.cursor ?? null;
      // Pages as large as what is left to show, so no page is cut and `next` follows the last task shown.
      do {
        const page: TaskPage = await doozer.listPage({
          ...(state !== undefined && { state }),
          ...(flags.name !== undefined && { name: flags.name }),
          limit: Math.min(100, limit - tasks.length),
          ...(next !== null && { cursor: next }),
        });
        tasks.push(...page.tasks);
        next = page.next;
      } while (next !== null && tasks.length < limit);
      if (json) {
        out(JSON.stringify({ tasks, next }, null, 2));
        return;
      }
      if (tasks.length === 0) out('No tasks.');
      else {
        const width = process.stdout.isTTY && process.stdout.columns ? process.stdout.columns - 1 : 120;
        out(formatTaskTable(tasks, { now: Date.now(), width }).join('\n'));
      }
      if (next !== null) err(`More tasks follow: show them with --cursor ${next} (and the same --state and --name), or a larger --limit.`);
    });

  program
    .command('cancel')
    .description('Cancel a task that has not ended.')
    .argument('[id]', 'the task id (or use --uuid)')
    .option('--uuid <id>', 'the task id, task_<uuid>')
    .addHelpText(
      'after',
      `\nExample:\n  doozer cancel task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006\n\n` +
        `A SCHEDULED, PENDING or RETRY task is cancelled: it never runs, or, running, is stopped and keeps\n` +
        `no result. Cancelling a cancelled task again is fine; one that has ended (SUCCESS, FAILURE) is\n` +
        `left as it is, with exit 1.\n${EXIT_CODES_HELP}`,
    )
    .action(async (positional: string | undefined, flags: { uuid?: string }, command: Command) => {
      const id = parseTaskIdArgs(positional, flags.uuid, 'cancel');
      const { client: doozer, json } = await client(command);
      try {
        printTask(await doozer.cancel(id), json, 'status');
      } catch (error) {
        if (!(error instanceof DoozerTaskEndedError)) throw error;
        err(`doozer: ${id} has already ended (${error.state}); there is nothing to cancel.`);
        exitCode = EXIT.taskFailed;
      }
    });

  program
    .command('batch')
    .description('Submit the tasks of a file, one JSON request a line.')
    .argument('<file>', 'the file, or - for standard input')
    .option('--idempotency-key <key>', 'makes the batch safe to send again: each chunk of 100 goes with <key>-1, <key>-2, …')
    .option('--wait', 'wait for the tasks to end, then print each with its result or error')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds, 60)
    .addHelpText(
      'after',
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
        `login comes first: until it is fixed nothing goes through, and the lines after it went unjudged.\n${EXIT_CODES_HELP}`,
    )
    .action(async (file: string, flags: WaitFlags & { idempotencyKey?: string }, command: Command) => {
      const startedAt = Date.now();
      const global = command.optsWithGlobals<GlobalOptions>();
      if (file === '-' && global.passwordStdin) throw new InputError('batch - and --password-stdin both read standard input; give the password another way');
      const lines = readBatchLines(await readInput(file));
      if (lines.length === 0) throw new InputError(`${file === '-' ? 'standard input' : file} holds no task requests (blank lines are skipped)`);
      const key = flags.idempotencyKey;
      if (key !== undefined) checkIdempotencyKey(key, chunkRequests(lines.filter((line) => 'json' in line)).length);
      const { client: doozer, json } = await client(command);
      // Log in first: a wrong password or an unreachable service is then reported as such, before any line.
      await doozer.token();
      const spinner = startSpinner(process.stderr, batchProgress(0, lines.length, 'lines sent'));
      const deadline = startedAt + flags.timeout * 1000;
      // What cut the wait short (the service stopped answering, say): the tasks left are printed as last seen.
      let waitStopped: { kind: FailureKind; error: Error } | undefined;
      let outcomes: LineOutcome[];
      try {
        outcomes = await submitLines(
          lines,
          async (requests, index) =>
            (await doozer.submitBatchJson(requests, key === undefined ? {} : { idempotencyKey: chunkKey(key, index) })).results,
          (settled) => spinner.update(batchProgress(settled, lines.length, 'lines sent')),
        );
        if (flags.wait) {
          outcomes = await waitForOutcomes(
            outcomes,
            async (id, task) => {
              if (waitStopped) return task;
              try {
                return await doozer.waitFor(id, { timeoutMs: Math.max(0, deadline - Date.now()) });
              } catch (error) {
                const kind = errorKind(error);
                if (kind === undefined || kind === 'refused') throw error;
                waitStopped ??= { kind, error: error as Error };
                return task;
              }
            },
            { deadline, onProgress: (ended, of) => spinner.update(batchProgress(ended, of, 'tasks ended')) },
          );
        }
      } finally {
        spinner.stop();
      }
      const now = Date.now();
      const numberWidth = String(lines.at(-1)!.line).length;
      for (const outcome of outcomes) out(json ? JSON.stringify(outcome) : formatOutcome(outcome, { now, numberWidth }));
      const verdict = batchVerdict(outcomes, { waited: flags.wait === true, deadline, ...(waitStopped && { stoppedBy: waitStopped.kind }) });
      const errors = outcomes.flatMap((outcome) => ('error' in outcome ? [outcome.error] : []));
      const authError = errors.find((error) => failureKind(error) === 'auth');
      const outages = errors.filter((error) => failureKind(error) === 'outage').length;
      if (authError) {
        err(`doozer: authentication failed: ${authError.message}. Check --username/--password (or DOOZER_USERNAME/DOOZER_PASSWORD, or the config file); the lines after it were not sent.`);
      } else if (outages > 0) {
        const [count, them] = outages === 1 ? ['1 line was', 'it'] : [`${outages} lines were`, 'them'];
        const maybe = errors.some((error) => error.code === 'unreachable') ? ' (those unreachable may have been accepted: --idempotency-key makes that safe)' : '';
        err(
          `doozer: ${count} not accepted for an outage (unavailable, too_many_requests, unreachable or not_sent); nothing is wrong with ${them}: send ${them} again later${maybe}.`,
        );
      }
      if (waitStopped) {
        const why = waitStopped.kind === 'auth' ? `authentication failed: ${waitStopped.error.message} (check --username/--password)` : waitStopped.error.message;
        err(`doozer: stopped waiting: ${why}; the tasks were accepted: see how they end with: doozer list, or doozer lookup <id>`);
      } else if (flags.wait) {
        const open = outcomes.filter((outcome) => 'task' in outcome && !isTerminal(outcome.task) && !runsAfter(outcome.task, deadline)).length;
        if (open > 0) err(`${open} of the tasks still open after ${flags.timeout} s; see how they end with: doozer list, or doozer lookup <id>`);
      }
      exitCode = BATCH_EXIT[verdict];
    });

  program
    .command('tasks')
    .description('List the task types and their args.')
    .argument('[task]', 'show this task type only')
    .addHelpText('after', `\nExamples:\n  doozer tasks\n  doozer tasks sleep --json\n${EXIT_CODES_HELP}`)
    .action(async (only: string | undefined, _flags: unknown, command: Command) => {
      const { client: doozer, json } = await client(command);
      const types = await doozer.taskTypes();
      const shown = only === undefined ? types : types.filter((type) => type.name === only);
      if (shown.length === 0 && only !== undefined) {
        throw new InputError(`unknown task ${JSON.stringify(only)}; known tasks: ${types.map((type) => type.name).join(', ')}`);
      }
      out(json ? JSON.stringify({ taskTypes: shown }, null, 2) : formatTaskTypes(shown).join('\n'));
    });

  program
    .command('token')
    .description('Print a JWT token.')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (_flags: unknown, command: Command) => {
      const { client: doozer, json } = await client(command);
      const token = await doozer.token();
      out(json ? JSON.stringify(token, null, 2) : token.token);
    });

  program
    .command('version')
    .description('Print the version.')
    .action((_flags: unknown, command: Command) => {
      const json = command.optsWithGlobals<GlobalOptions>().json === true;
      out(json ? JSON.stringify({ version: packageJson.version }) : `doozer ${packageJson.version}`);
    });

  try {
    if (argv.length === 0) {
      out(ROOT_HELP.trimEnd());
      return EXIT.done;
    }
    // Before commander reads the words: it would take `min` of `--in 20 min` for a task argument.
    checkDelayWords(argv);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return report(error, err);
  }
}

/** A 400 for the args of `doozer run`, pointing to where the task's args are described. */
function withTasksHint(error: unknown, task: string): unknown {
  // Only for faults in the args: not for a refused --at, say.
  if (!(error instanceof DoozerApiError) || error.code !== 'invalid_request' || !/\bargs\b/.test(error.message)) return error;
  return new DoozerApiError(error.status, error.code, `${error.message} (doozer tasks ${task} shows its args)`);
}

/** Maps every failure to a message on stderr that names the problem and a fix, and an exit code. */
function report(error: unknown, err: (line: string) => void): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message already; help and version are not failures.
    return error.exitCode === 0 ? EXIT.done : EXIT.usage;
  }
  if (error instanceof InputError || error instanceof SettingsError) {
    err(`doozer: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof DoozerConnectionError) {
    err(`doozer: ${error.message}. Is the service running? Start the local stack with \`npm start\`, or point --url / DOOZER_URL at it.`);
    return EXIT.unavailable;
  }
  if (error instanceof DoozerApiError) {
    if (error.status === 401) {
      err(`doozer: authentication failed: ${error.message}. Check --username/--password (or DOOZER_USERNAME/DOOZER_PASSWORD, or the config file).`);
      return EXIT.auth;
    }
    if (error instanceof DoozerRateLimitError && error.login) {
      // Too many wrong passwords from here, or too many logins at once: for a while.
      err(`doozer: logins refused for now: ${error.message}. Check --username/--password meanwhile.`);
      return EXIT.auth;
    }
    if (error.status === 429) {
      // Nothing was done, and nothing is wrong with the request: like an outage, it is for later.
      err(`doozer: ${describeRateLimit(error)}`);
      return EXIT.unavailable;
    }
    if (error.status === 404 && error.code === 'task_not_found') {
      err(`doozer: ${error.message}. Check the id, or it may have expired.`);
      return EXIT.taskFailed;
    }
    if (error.status >= 500) {
      err(`doozer: the service answered ${error.status} ${error.code}: ${error.message}`);
      return EXIT.unavailable;
    }
    err(`doozer: the service refused the request (${error.status} ${error.code}): ${error.message}`);
    return EXIT.usage;
  }
  err(`doozer: ${(error as Error)?.message ?? String(error)}`);
  return EXIT.taskFailed;
}

/** The stderr line before a retry: `rate limited (RateLimit-Remaining 0); retrying in 2 s`. */
function describeRetry({ error, waitSeconds }: RateLimitRetry): string {
  const openTasks = error.code === 'open_task_limit';
  const what = error.login ? 'logins refused for now' : openTasks ? 'too many open tasks' : 'rate limited';
  const remaining = error.rateLimit?.remaining;
  // The headers say it all for the rate limit; the open-task limit needs its message (its numbers).
  const why = openTasks || remaining === undefined ? error.message : remaining === 0 ? 'RateLimit-Remaining 0' : `${error.message}; RateLimit-Remaining ${remaining}`;
  return `${what} (${why}); retrying in ${waitSeconds} s`;
}

/** The message of a 429 that doozer did not (or no longer) wait out, naming the wait the service asks for. */
function describeRateLimit(error: DoozerApiError): string {
  const limited = error instanceof DoozerRateLimitError ? error : undefined;
  const remaining = limited?.rateLimit?.remaining;
  // The request rate's own numbers; beside the open-task limit they would only confuse.
  const headers = remaining === undefined || error.code === 'open_task_limit' ? '' : ` (RateLimit-Remaining ${remaining})`;
  const wait = limited?.retryAfterSeconds;
  const when = wait === undefined ? 'try again later' : `try again in ${wait} s`;
  const refused = `the service refused the request${limited?.retried ? ' again after one retry' : ''} (${error.status} ${error.code}): ${error.message}${headers}`;
  if (!limited?.retried && wait !== undefined && wait > MAX_RATE_LIMIT_WAIT_SECONDS) {
    return `${refused}; it asks to wait ${wait} s, longer than doozer waits (${MAX_RATE_LIMIT_WAIT_SECONDS} s): ${when}.`;
  }
  // The service's message may say when already ("…; try again in 2 s").
  return /try again in \d+ s$/.test(error.message) ? `${refused}.` : `${refused}; ${when}.`;
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
    if (code === 'ENOENT') throw new InputError(`no such file: ${file}`);
    if (code === 'EISDIR') throw new InputError(`${file} is a directory; give a file of one task request a line, or - for standard input`);
    if (code === 'EACCES' || code === 'EPERM') throw new InputError(`cannot read ${file}: permission denied`);
    throw new InputError(`cannot read ${file}: ${code ?? (error as Error).message}`);
  }
}

async function readPassword(): Promise<string> {
  const password = (await text(process.stdin)).replace(/\r?\n$/, '');
  if (!password) throw new InputError('--password-stdin: no password on standard input');
  return password;
}

process.exitCode = await main(process.argv.slice(2));
