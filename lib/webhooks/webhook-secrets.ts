import { type Clock, systemClock } from '../clock.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { WebhookSecrets } from '../ports.ts';

export interface RefreshingWebhookSecretsOptions {
  /** The secrets as read at cold start. */
  readonly initial: ReadonlyMap<string, string>;
  /** Reads them again (the users' SSM parameter); without it they never change (the local stage). */
  readonly reload?: () => Promise<ReadonlyMap<string, string>>;
  /** Read again when older than this: a secret rotated in SSM is used within it. */
  readonly maxAgeMs?: number;
  /** Read again for an owner without a secret, at most this often: a user just given one. */
  readonly missReloadMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/**
 * The users' webhook secrets, read again now and then: a notifier instance may live for hours, and
 * the API, which reads the users at its own cold starts, may already accept webhooks of a user this
 * instance has never heard of. One reading at a time; a failed one keeps the secrets it had.
 */
export class RefreshingWebhookSecrets implements WebhookSecrets {
  #secrets: ReadonlyMap<string, string>;
  #loadedAt: number;
  #loading: Promise<void> | undefined;
  readonly #reload: (() => Promise<ReadonlyMap<string, string>>) | undefined;
  readonly #maxAgeMs: number;
  readonly #missReloadMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: RefreshingWebhookSecretsOptions) {
    this.#secrets = options.initial;
    this.#reload = options.reload;
    this.#maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
    this.#missReloadMs = options.missReloadMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#loadedAt = this.#clock.now();
  }

  async secretOf(owner: string): Promise<string | undefined> {
    const age = this.#clock.now() - this.#loadedAt;
    if (this.#reload && (age > this.#maxAgeMs || (!this.#secrets.has(owner) && age > this.#missReloadMs))) {
      this.#loading ??= this.#load(this.#reload).finally(() => (this.#loading = undefined));
      await this.#loading;
    }
    return this.#secrets.get(owner);
  }

  async #load(reload: () => Promise<ReadonlyMap<string, string>>): Promise<void> {
    try {
      this.#secrets = await reload();
    } catch (error) {
      this.#logger.warn('could not read the webhook secrets again; keeping those read before', { error });
    }
    // Also after a failure: the next reading waits its turn rather than every delivery trying one.
    this.#loadedAt = this.#clock.now();
  }
}
