/** `tasks`, `token` and `version`: what the service runs, a token, and this client's version. */
import type { Command } from 'commander';
import { quote } from '../../input.ts';
import { formatTaskTypes } from '../../task-types.ts';
import type { CliContext } from '../context.ts';
import { EXIT } from '../failures.ts';
import { EXIT_CODES_HELP } from '../help.ts';
import { versionLine } from '../version.ts';

export function registerInfoCommands(program: Command, context: CliContext): void {
  const { output } = context;
  program
    .command('tasks')
    .description('List the task types and their args.')
    .argument('[task]', 'show this task type only')
    .addHelpText('after', `\nExamples:\n  doozer tasks\n  doozer tasks sleep --json\n${EXIT_CODES_HELP}`)
    .action(async (only: string | undefined, _flags: unknown, command: Command) => {
      const { client } = await context.connect(command);
      const types = await client.taskTypes();
      const shown = only === undefined ? types : types.filter((type) => type.name === only);
      if (shown.length === 0 && only !== undefined) {
        // As `run` would have it from the service: a 4xx, unknown_task.
        const message = `unknown task ${quote(only)}; known tasks: ${types.map((type) => type.name).join(', ')}`;
        context.exitCode = output.fail({ exitCode: EXIT.refused, text: message, error: { code: 'unknown_task', message } });
        return;
      }
      output.out(output.json ? JSON.stringify({ taskTypes: shown }, null, 2) : formatTaskTypes(shown).join('\n'));
    });

  program
    .command('token')
    .description('Print a JWT token.')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (_flags: unknown, command: Command) => {
      const { client } = await context.connect(command);
      const token = await client.token();
      output.out(output.json ? JSON.stringify(token, null, 2) : token.token);
    });

  program
    .command('version')
    .description('Print the version.')
    .action(() => output.out(versionLine(output.json)));
}
