/**
 * `add`, `mul` and `run`: submit a task, now (its result within the wait, or `Deferred!`), waited
 * for with --wait, or set to run later with --at or --in; --callback asks for a webhook when it ends.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CallbackOptions, RunLaterOptions, RunOptions } from '../../client-options.ts';
import type { DoozerClient } from '../../doozer-client.ts';
import { DoozerApiError } from '../../errors.ts';
import { parseCallbackUrl, parseDelay, parseIntegers, parseRunArgs, parseRunAt, quote } from '../../input.ts';
import { type TaskName, type TaskView, isTerminal } from '../../types.ts';
import { RawJson } from '../../wire.ts';
import type { CliContext } from '../context.ts';
import { AT_HELP, CALLBACK_HELP, EXIT_CODES_HELP, IN_HELP, LATER_HELP } from '../help.ts';
import { POLL_SECONDS, type WaitFlags, finish, printLater, waitWithProgress } from '../task-output.ts';

/** `--at`, `--in` and `--callback`, as given. */
interface LaterFlags {
  at?: string;
  in?: string;
  callback?: string;
}

type SubmitFlags = WaitFlags & LaterFlags;

/** `--timeout`: a positive number of seconds. */
export function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0)) {
    throw new InvalidArgumentError(`expected a positive number of seconds, got ${quote(value)}`);
  }
  return seconds;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** --wait and --timeout, as add, mul, run and lookup take them. */
export function addWaitOptions(command: Command, wait: string): Command {
  return command.option('--wait', wait).option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds, 60);
}

/** --wait, --timeout, --at, --in (either, not both, and neither with --wait) and --callback. */
function addSubmitOptions(command: Command, wait: string): Command {
  return addWaitOptions(command, wait)
    .addOption(new Option('--at <time>', AT_HELP).conflicts(['in', 'wait']))
    .addOption(new Option('--in <duration>', IN_HELP).conflicts('wait'))
    .option('--callback <url>', CALLBACK_HELP);
}

/** When the task is to run and where its webhook goes, checked before anything is sent. */
interface Schedule {
  /** Empty to run it now. */
  readonly later: RunLaterOptions;
  /** Empty for no webhook. */
  readonly hook: CallbackOptions;
}

function scheduleOf(flags: LaterFlags): Schedule {
  const later = flags.at !== undefined ? { runAt: parseRunAt(flags.at) } : flags.in !== undefined ? { delaySeconds: parseDelay(flags.in) } : {};
  const hook = flags.callback === undefined ? {} : { callbackUrl: parseCallbackUrl(flags.callback) };
  return { later, hook };
}

/**
 * Submits with `send` and reports the task: at once, for a task to run later; else waited for as
 * the flags ask, then printed with its result.
 */
async function submitAndReport(
  context: CliContext,
  client: DoozerClient,
  send: (options: RunOptions) => Promise<{ task: TaskView }>,
  { later, hook }: Schedule,
  flags: WaitFlags,
): Promise<number> {
  const { output } = context;
  if (later.runAt !== undefined || later.delaySeconds !== undefined) return printLater(output, (await send({ ...later, ...hook })).task);
  const startedAt = Date.now();
  // With --wait the API may hold the submission, but never longer than the whole run may take.
  const wait = flags.wait ? Math.min(POLL_SECONDS, Math.floor(flags.timeout)) : undefined;
  const { task } = await send({ ...(wait !== undefined && { wait }), ...hook });
  const final = flags.wait && !isTerminal(task) ? await waitWithProgress(client, task, flags, startedAt) : task;
  return finish(output, final, flags, 'result');
}

export function registerSubmitCommands(program: Command, context: CliContext): void {
  for (const [name, summary, example] of [
    ['add', 'Add api call.', 'doozer add --i 1,2,3,4,5,6'],
    ['mul', 'Multiply api call.', 'doozer mul --i 2,3,4'],
  ] as const) {
    const command = program
      .command(name)
      .description(`${summary} Integers of any size up to 1,000 digits, as --i lists or arguments.`)
      .argument('[integers...]', 'integers to send (put negative ones after --, or use --i)')
      .option('--i <list>', 'comma-separated integers, e.g. 1,2,3 (repeatable)', collect);
    addSubmitOptions(command, 'keep polling until the task ends, showing its progress on stderr')
      .addHelpText(
        'after',
        `\nExamples:\n  ${example}\n  ${example} --in 20m\n  ${example} --callback https://example.com/hooks/doozer\n${LATER_HELP}\n${EXIT_CODES_HELP}`,
      )
      .action(async (positional: string[], flags: SubmitFlags & { i?: string[] }, command: Command) => {
        const args = parseIntegers(name, flags.i ?? [], positional);
        const schedule = scheduleOf(flags);
        const { client } = await context.connect(command);
        context.exitCode = await submitAndReport(context, client, (options) => client.submit(name as TaskName, args, options), schedule, flags);
      });
  }

  const run = program
    .command('run')
    .description('Run a task: doozer run <task> [args as JSON, or --arg key=value ...].')
    .argument('<task>', 'the task type (doozer tasks lists them)')
    .argument('[args]', `the args as one JSON value, e.g. '{"ms":3000}' or '[1,2,3]'`)
    .option('--arg <key=value>', 'one field of the args, which are then an object (repeatable); the value is read as JSON when it is JSON, else as text', collect);
  addSubmitOptions(run, 'keep polling until the task ends, showing its progress on stderr (a bar on a terminal)')
    .addHelpText(
      'after',
      `\nExamples:\n  doozer run sleep '{"ms":3000}'\n  doozer run sleep --arg ms=3000 --wait\n  doozer run add '[1,2,3]'\n` +
        `  doozer run primes --arg below=100000000 --wait --timeout 120\n` +
        `  doozer run primes --arg below=1000 --at 2026-12-01T18:30Z\n` +
        `  doozer run primes --arg below=1000000 --callback https://example.com/hooks/doozer\n\n` +
        `An --arg value is JSON when it reads as JSON (ms=3000 is a number), else text; quote text that\n` +
        `reads as JSON: --arg 'label="42"'.\n${LATER_HELP}\n${EXIT_CODES_HELP}`,
    )
    .action(async (name: string, json: string | undefined, flags: SubmitFlags & { arg?: string[] }, command: Command) => {
      const parsed = parseRunArgs(name, json, flags.arg ?? []);
      // Args typed as one JSON value go as typed: the API judges exactly them (a key given twice, 1e400).
      const args = json !== undefined ? new RawJson(json) : parsed;
      const schedule = scheduleOf(flags);
      const { client } = await context.connect(command);
      const send = (options: RunOptions) =>
        client.run(name, args, options).catch((error: unknown) => {
          throw withTasksHint(error, name);
        });
      context.exitCode = await submitAndReport(context, client, send, schedule, flags);
    });
}

/** A 400 for the args of `doozer run`, pointing to where the task's args are described. */
function withTasksHint(error: unknown, task: string): unknown {
  // Only for faults in the args: not for a refused --at, say.
  if (!(error instanceof DoozerApiError) || error.code !== 'invalid_request' || !/\bargs\b/.test(error.message)) return error;
  return new DoozerApiError(error.status, error.code, `${error.message} (doozer tasks ${task} shows its args)`);
}
