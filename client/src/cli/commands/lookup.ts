/** `lookup` and `cancel`: one task, by its id, as an argument or with --uuid. */
import type { Command } from 'commander';
import { DoozerTaskEndedError } from '../../errors.ts';
import { parseTaskIdArgs } from '../../input.ts';
import { isTerminal } from '../../types.ts';
import type { CliContext } from '../context.ts';
import { describeFailure } from '../failures.ts';
import { EXIT_CODES_HELP } from '../help.ts';
import { type WaitFlags, finish, printTask, waitWithProgress } from '../task-output.ts';
import { addWaitOptions } from './submit.ts';

export function registerTaskCommands(program: Command, context: CliContext): void {
  const lookup = program
    .command('lookup')
    .description('Lookup a task uuid.')
    .argument('[id]', 'the task id (or use --uuid)')
    .option('--uuid <id>', 'the task id, task_<uuid>');
  addWaitOptions(lookup, 'keep polling until the task ends, showing its progress on stderr')
    .addHelpText('after', `\nExample:\n  doozer lookup --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006\n${EXIT_CODES_HELP}`)
    .action(async (positional: string | undefined, flags: WaitFlags & { uuid?: string }, command: Command) => {
      const id = parseTaskIdArgs(positional, flags.uuid);
      const { client } = await context.connect(command);
      const startedAt = Date.now();
      const task = await client.get(id);
      const final = flags.wait && !isTerminal(task) ? await waitWithProgress(client, task, flags, startedAt) : task;
      context.exitCode = finish(context.output, final, flags, 'status');
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
      const { client } = await context.connect(command);
      try {
        printTask(context.output, await client.cancel(id), 'status');
      } catch (error) {
        if (!(error instanceof DoozerTaskEndedError)) throw error;
        const failure = describeFailure(error)!;
        context.exitCode = context.output.fail({ ...failure, text: `${id} has already ended (${error.state}); there is nothing to cancel.` });
      }
    });
}
