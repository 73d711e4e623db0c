/** `list`: the user's tasks, newest first, as a table (or the API's JSON), a page at a time. */
import type { Command } from 'commander';
import { parseListLimit, parseState } from '../../input.ts';
import { formatTaskTable } from '../../task-table.ts';
import type { TaskPage, TaskView } from '../../types.ts';
import type { CliContext } from '../context.ts';
import { EXIT_CODES_HELP } from '../help.ts';

interface ListFlags {
  state?: string;
  name?: string;
  limit: string;
  cursor?: string;
}

export function registerListCommand(program: Command, context: CliContext): void {
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
    .action(async (flags: ListFlags, command: Command) => {
      const state = flags.state === undefined ? undefined : parseState(flags.state);
      const limit = parseListLimit(flags.limit);
      const { client } = await context.connect(command);
      const { output } = context;
      const tasks: TaskView[] = [];
      let next: string | null = flags.cursor ?? null;
      // Pages as large as what is left to show, so no page is cut and `next` follows the last task shown.
      do {
        const page: TaskPage = await client.listPage({
          ...(state !== undefined && { state }),
          ...(flags.name !== undefined && { name: flags.name }),
          limit: Math.min(100, limit - tasks.length),
          ...(next !== null && { cursor: next }),
        });
        tasks.push(...page.tasks);
        next = page.next;
      } while (next !== null && tasks.length < limit);
      if (output.json) {
        output.out(JSON.stringify({ tasks, next }, null, 2));
        return;
      }
      if (tasks.length === 0) output.out('No tasks.');
      else {
        const width = process.stdout.isTTY && process.stdout.columns ? process.stdout.columns - 1 : 120;
        output.out(formatTaskTable(tasks, { now: Date.now(), width }).join('\n'));
      }
      if (next !== null) output.err(`More tasks follow: show them with --cursor ${next} (and the same --state and --name), or a larger --limit.`);
    });
}
