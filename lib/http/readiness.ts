import { UnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** A dependency the API needs to take tasks, and a cheap call that shows it answers. */
export interface ReadinessProbe {
  /** What the readiness answer calls it: `store`, `queue`. */
  readonly name: string;
  check(): Promise<void>;
}

/**
 * `GET /ready`: every probe at once. `/health` says the process answers (liveness); this says a
 * submission could be recorded and queued now (readiness), which is what `npm start` waits for
 * before it says the stack is running. A failure names the parts that did not answer: they are not
 * secret, and an operator needs them.
 */
export async function checkReadiness(probes: readonly ReadinessProbe[], logger: Logger): Promise<void> {
  const results = await Promise.allSettled(probes.map((probe) => probe.check()));
  const failed = probes.filter((probe, index) => {
    const result = results[index]!;
    if (result.status === 'rejected') logger.warn('readiness probe failed', { probe: probe.name, error: result.reason });
    return result.status === 'rejected';
  });
  if (failed.length === 0) return;
  throw new UnavailableError(`not ready: the ${failed.map((probe) => probe.name).join(' and ')} did not answer`, { expose: true });
}
