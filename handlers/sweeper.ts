import { loadSweeperConfig } from '../lib/config.ts';
import { createLogger, createTaskSweeper, withLambdaContext } from '../lib/dependencies.ts';
import type { SweepReport } from '../lib/tasks/task-sweeper.ts';

const logger = createLogger();
const sweeper = createTaskSweeper(loadSweeperConfig(process.env), logger);

/** Every minute (EventBridge schedule): queue again the tasks whose message may have been lost. */
export const handler = withLambdaContext(logger, (): Promise<SweepReport> => sweeper.sweep());
