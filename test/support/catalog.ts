import { TaskCatalog } from '../../lib/tasks/task-catalog.ts';
import { TASKS } from '../../tasks/index.ts';

/** The tasks of tasks/index.ts, as the functions build them (lib/dependencies.ts). */
export const catalog = new TaskCatalog(TASKS);
