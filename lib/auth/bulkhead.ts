/**
 * Bounds how much of one kind of work runs at once in a process: up to `maxRunning` at a time and
 * `maxWaiting` more in line; anything beyond is refused at once rather than queued. For password
 * hashing, whose cost is all CPU: a flood of logins must not take the cores the rest of the API
 * needs. (On Lambda an instance serves one request at a time, so this bites where one process
 * serves many: serverless-offline, a container.)
 */
export class Bulkhead {
  readonly #maxRunning: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: { readonly maxRunning: number; readonly maxWaiting: number }) {
    if (!Number.isInteger(options.maxRunning) || options.maxRunning < 1) {
      throw new RangeError(`maxRunning must be a positive integer, got ${options.maxRunning}`);
    }
    if (!Number.isInteger(options.maxWaiting) || options.maxWaiting < 0) {
      throw new RangeError(`maxWaiting must be a non-negative integer, got ${options.maxWaiting}`);
    }
    this.#maxRunning = options.maxRunning;
    this.#maxWaiting = options.maxWaiting;
  }

  /** Runs `work` when a place is free; returns `refused` without running it when the line is full. */
  async run<T>(work: () => Promise<T>): Promise<{ readonly refused: true } | { readonly refused: false; readonly value: T }> {
    if (this.#running >= this.#maxRunning) {
      if (this.#waiting.length >= this.#maxWaiting) return { refused: true };
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return { refused: false, value: await work() };
    } finally {
      // Hand the place straight to the next in line, so a newcomer cannot overtake it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running -= 1;
    }
  }
}
