/**
 * The `doozer` command line: parses the arguments with commander, runs the command, and turns what
 * went wrong into a message and an exit code (failures.ts). The commands are in commands/; they
 * only parse, call DoozerClient and print, in the original Go client's words where it had them.
 */
import { Command, Help, Option } from 'commander';
import { checkDelayWords, clipQuoted } from '../input.ts';
import { registerBatchCommand } from './commands/batch.ts';
import { registerInfoCommands } from './commands/info.ts';
import { registerListCommand } from './commands/list.ts';
import { registerTaskCommands } from './commands/lookup.ts';
import { registerSubmitCommands } from './commands/submit.ts';
import { Output, createContext } from './context.ts';
import { EXIT, describeFailure } from './failures.ts';
import { ROOT_HELP } from './help.ts';

/** Runs the command line (the words after `doozer`); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // Known before commander has parsed anything, so that a usage error, too, is printed as JSON
  // (commander takes --json as the global flag wherever it stands before `--`, as this does).
  const output = new Output(beforeEndOfOptions(argv).includes('--json'));
  const context = createContext(output);
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
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      // With --json, a usage error is the JSON that main prints; commander's text would only repeat it.
      writeErr: (text) => {
        if (!output.json) process.stderr.write(text);
      },
      outputError: (text, write) => write(clipQuoted(text)),
    });
  program.configureHelp({
    showGlobalOptions: true,
    formatHelp: (command, helper) => (command === program ? ROOT_HELP : Help.prototype.formatHelp.call(helper, command, helper)),
  });
  registerSubmitCommands(program, context);
  registerTaskCommands(program, context);
  registerListCommand(program, context);
  registerBatchCommand(program, context);
  registerInfoCommands(program, context);

  try {
    if (argv.length === 0) {
      output.out(ROOT_HELP.trimEnd());
      return EXIT.done;
    }
    // Before commander reads the words: it would take `min` of `--in 20 min` for a task argument.
    checkDelayWords(argv);
    await program.parseAsync(argv, { from: 'user' });
    return context.exitCode;
  } catch (error) {
    const failure = describeFailure(error);
    return failure === undefined ? EXIT.done : output.fail(failure);
  }
}

/** The words before `--`: after it, every word is an argument. */
function beforeEndOfOptions(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}
