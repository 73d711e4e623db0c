import { loadSweeperConfig } from '../lib/config.ts';
import { createTaskSweeper } from '../lib/dependencies.ts';
import type { SweepReport } from '../lib/tasks/task-sweeper.ts';

const sweeper = createTaskSweeper(loadSweeperConfig(process.env));

/** Every minute (EventBridge schedule): queue again the tasks whose message may have been lost. */
export const handler = (): Promise<SweepReport> => sweeper.sweep();
