import { describe, expect, it } from 'vitest';
import { RefreshingWebhookSecrets } from '../../lib/webhooks/webhook-secrets.ts';
import { FakeClock } from '../support/fake-clock.ts';

describe('RefreshingWebhookSecrets', () => {
  const A = 'whsec_a';
  const B = 'whsec_b';

  function secrets(reload: () => Promise<ReadonlyMap<string, string>>) {
    const clock = new FakeClock();
    return { clock, secrets: new RefreshingWebhookSecrets({ initial: new Map([['alice', A]]), reload, maxAgeMs: 300_000, missReloadMs: 30_000, clock }) };
  }

  it('reads the users again for an owner it does not know, at most every 30 s', async () => {
    let reads = 0;
    const { clock, secrets: s } = secrets(async () => {
      reads += 1;
      return new Map([['alice', A], ['bob', B]]);
    });
    clock.ms += 10_000;
    expect(await s.secretOf('bob')).toBeUndefined();
    expect(reads).toBe(0);
    clock.ms += 21_000;
    expect(await s.secretOf('bob')).toBe(B);
    expect(await s.secretOf('carol')).toBeUndefined();
    expect(reads).toBe(1);
  });

  it('takes up a rotated secret once the reading is five minutes old', async () => {
    const { clock, secrets: s } = secrets(async () => new Map([['alice', B]]));
    expect(await s.secretOf('alice')).toBe(A);
    clock.ms += 300_001;
    expect(await s.secretOf('alice')).toBe(B);
  });

  it('makes one reading for many lookups at once, and keeps the secrets it had when a reading fails', async () => {
    let reads = 0;
    const { clock, secrets: s } = secrets(async () => {
      reads += 1;
      throw new Error('SSM unreachable');
    });
    clock.ms += 300_001;
    expect(await Promise.all([s.secretOf('alice'), s.secretOf('alice'), s.secretOf('bob')])).toEqual([A, A, undefined]);
    expect(reads).toBe(1);
    // The failed reading counts: the next waits its turn.
    expect(await s.secretOf('bob')).toBeUndefined();
    expect(reads).toBe(1);
  });
});
