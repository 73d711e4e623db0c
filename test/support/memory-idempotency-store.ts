import { UnavailableError } from '../../lib/errors.ts';
import { type IdempotencyClaim, isClaimExpired } from '../../lib/tasks/idempotency.ts';
import type { IdempotencyStore } from '../../lib/ports.ts';

/**
 * An in-memory IdempotencyStore with the same conditions as the DynamoDB one. `failNext` makes the
 * next calls of a method fail as an outage would.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly claims = new Map<string, IdempotencyClaim>();
  readonly #failures = new Map<keyof IdempotencyStore, number>();

  failNext(method: keyof IdempotencyStore, times = 1): void {
    this.#failures.set(method, times);
  }

  async claim(claim: IdempotencyClaim, options: { nowMs: number; replacing?: string }): Promise<'claimed' | 'taken'> {
    this.#maybeFail('claim');
    const current = this.claims.get(claim.id);
    const free = !current || isClaimExpired(current, options.nowMs) || current.taskId === options.replacing;
    if (!free) return 'taken';
    this.claims.set(claim.id, structuredClone(claim));
    return 'claimed';
  }

  async get(id: string): Promise<IdempotencyClaim | undefined> {
    this.#maybeFail('get');
    const claim = this.claims.get(id);
    return claim && structuredClone(claim);
  }

  async release(id: string, taskId: string): Promise<boolean> {
    this.#maybeFail('release');
    if (this.claims.get(id)?.taskId !== taskId) return false;
    this.claims.delete(id);
    return true;
  }

  async settle(id: string, taskId: string, notAccepted: readonly number[]): Promise<boolean> {
    this.#maybeFail('settle');
    const claim = this.claims.get(id);
    if (claim?.taskId !== taskId) return false;
    this.claims.set(id, { ...claim, settled: [...notAccepted] });
    return true;
  }

  #maybeFail(method: keyof IdempotencyStore): void {
    const left = this.#failures.get(method) ?? 0;
    if (left > 0) {
      this.#failures.set(method, left - 1);
      throw new UnavailableError(`simulated outage in ${method}`);
    }
  }
}
