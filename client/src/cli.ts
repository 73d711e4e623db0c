/**
 * The `doozer` command: parses arguments, calls DoozerClient, prints. Commands and output follow
 * the original Go client (`Result: 21`, `Status : PENDING`), so its users feel at home.
 */
import { text } from 'node:stream/consumers';
import { Command, CommanderError, Help, InvalidArgumentError, Option } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { DoozerClient } from './doozer-client.ts';
import { DoozerApiError, DoozerConnectionError } from './errors.ts';
import { InputError, parseIntegers, parseRunArgs, parseTaskId } from './input.ts';
import { percent, startProgress } from './progress.ts';
import { SettingsError, resolveSettings } from './settings.ts';
import { formatTaskTypes } from './task-types.ts';
import { FileTokenCache } from './token-cache.ts';
import { type TaskName, type TaskView, isTerminal } from './types.ts';

export const EXIT = { done: 0, taskFailed: 1, usage: 2, auth: 3, unavailable: 4, waitTimedOut: 5 } as const;

const EXIT_CODES_HELP = `
Exit codes:
  0  done (or deferred, without --wait)
  1  the task failed, or no such task
  2  usage error: a bad flag, number, JSON or setting, or args the service refused
  3  authentication failed, or logins refused for a while (too many wrong passwords)
  4  the service is unreachable or answered 5xx
  5  deferred, and --wait timed out`;

const ROOT_HELP = `Simple client to interact with the doozer API service.

Usage:
  doozer
  doozer [command]

Available Commands:
  add         Add api call.
  help        Help about any command
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

/** A result on one line: text and numbers as they are (exact integers come as either), else compact JSON. */
function formatResult(result: unknown): string {
  if (typeof result === 'string') return result;
  return JSON.stringify(result) ?? 'null';
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
      // Only for a task still running that has said how far it is: the original's lines stay as they were.
      if (!isTerminal(task) && task.progress) {
        out(`Progress : ${percent(task.progress.fraction)}%${task.progress.message ? ` ${task.progress.message}` : ''}`);
      }
      if (task.state === 'SUCCESS') out(`Result : ${formatResult(task.result)}`);
      if (task.state === 'FAILURE') out(`Error : ${task.error?.message ?? 'unknown error'}`);
    } else if (task.state === 'SUCCESS') out(`Result: ${formatResult(task.result)}`);
    else if (task.state !== 'FAILURE') out(`Deferred! ${task.id}`);
    if (task.state === 'FAILURE') {
      if (!json && format === 'result') err(`Failed! ${task.id}: ${task.error?.message ?? 'unknown error'} (${task.error?.code ?? 'unknown'})`);
      return EXIT.taskFailed;
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
      .addHelpText('after', `\nExample:\n  ${example}\n${EXIT_CODES_HELP}`)
      .action(async (positional: string[], flags: WaitFlags & { i?: string[] }, command: Command) => {
        const args = parseIntegers(name, flags.i ?? [], positional);
        const { client: doozer, json } = await client(command);
        const startedAt = Date.now();
        const wait = serverWait(flags);
        const { task } = await doozer.submit(name as TaskName, args, wait === undefined ? {} : { wait });
        const final = flags.wait && !isTerminal(task) ? await waitFor(doozer, task, flags, startedAt) : task;
        exitCode = finish(final, flags, json, 'result');
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
      const id = parseTaskId(flags.uuid ?? positional);
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
    .addHelpText(
      'after',
      `\nExamples:\n  doozer run sleep '{"ms":3000}'\n  doozer run sleep --arg ms=3000 --wait\n  doozer run add '[1,2,3]'\n` +
        `  doozer run primes --arg below=100000000 --wait --timeout 120\n\n` +
        `An --arg value is JSON when it reads as JSON (ms=3000 is a number), else text; quote text that\n` +
        `reads as JSON: --arg 'label="42"'.\n${EXIT_CODES_HELP}`,
    )
    .action(async (name: string, json: string | undefined, flags: WaitFlags & { arg?: string[] }, command: Command) => {
      const args = parseRunArgs(name, json, flags.arg ?? []);
      const { client: doozer, json: printJson } = await client(command);
      const startedAt = Date.now();
      const wait = serverWait(flags);
      const { task } = await doozer.run(name, args, wait === undefined ? {} : { wait }).catch((error: unknown) => {
        throw withTasksHint(error, name);
      });
      const final = flags.wait && !isTerminal(task) ? await waitFor(doozer, task, flags, startedAt) : task;
      exitCode = finish(final, flags, printJson, 'result');
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
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return report(error, err);
  }
}

/** A 400 for the args of `doozer run`, pointing to where the task's args are described. */
function withTasksHint(error: unknown, task: string): unknown {
  if (!(error instanceof DoozerApiError) || error.code !== 'invalid_request') return error;
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
    if (error.status === 429) {
      // Today only POST /auth/token answers 429: too many wrong passwords from here, for a while.
      err(`doozer: logins refused for now: ${error.message}. Check --username/--password meanwhile.`);
      return EXIT.auth;
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

async function readPassword(): Promise<string> {
  const password = (await text(process.stdin)).replace(/\r?\n$/, '');
  if (!password) throw new InputError('--password-stdin: no password on standard input');
  return password;
}

process.exitCode = await main(process.argv.slice(2));
