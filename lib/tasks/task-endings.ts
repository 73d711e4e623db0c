import { type Logger, silentLogger } from '../logger.ts';
import type { NotifierQueue, OpenTaskSlots } from '../ports.ts';
import type { Task } from './task.ts';

export interface TaskEndingsOptions {
  /** Where the owner's open tasks are counted: the ended one's slot is given back. */
  readonly slots?: OpenTaskSlots;
  /** The notifier's queue: a task with a callbackUrl is announced there. */
  readonly notices?: NotifierQueue;
  readonly logger?: Logger;
}

/**
 * What follows a task's end, after the write that ended it (a worker's, a cancel, the dead-letter
 * handler's): its owner's open-task slot is given back, and a task with a callbackUrl is handed to
 * the notifier. Both are best effort and neither is trusted alone: a lost release is found and
 * cleared when the owner's slots are next full (OpenTaskSlots), and a lost notice is sent again by
 * the sweeper from the webhook index, which the end write itself put the task in.
 */
export class TaskEndings {
  readonly #slots: OpenTaskSlots | undefined;
  readonly #notices: NotifierQueue | undefined;
  readonly #logger: Logger;

  constructor(options: TaskEndingsOptions) {
    this.#slots = options.slots;
    this.#notices = options.notices;
    this.#logger = options.logger ?? silentLogger;
  }

  /** `notify`: false for a task that ends without having been accepted (its submitter was told so). */
  async ended(task: Task, { notify }: { readonly notify: boolean }): Promise<void> {
    await Promise.all([
      this.#slots?.release(task.owner, [task.id]).catch((error: unknown) => {
        this.#logger.warn('could not give back an open-task slot', { taskId: task.id, error });
      }),
      notify && task.callbackUrl !== undefined
        ? this.#notices?.send(task.id).catch((error: unknown) => {
            this.#logger.warn('could not hand a webhook to the notifier; the sweeper will', { taskId: task.id, error });
          })
        : undefined,
    ]);
  }
}
