import { describe, expect, it } from 'vitest';
import { Bulkhead } from '../../lib/auth/bulkhead.ts';

/** A piece of work that ends when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('Bulkhead', () => {
  it('runs up to maxRunning at once, queues maxWaiting more in arrival order, and refuses the rest at once', async () => {
    const bulkhead = new Bulkhead({ maxRunning: 1, maxWaiting: 2 });
    const started: string[] = [];
    const first = gate();
    const run = (name: string, until: Promise<void> = Promise.resolve()) =>
      bulkhead.run(async () => {
        started.push(name);
        await until;
        return name;
      });
    const a = run('a', first.opened);
    const b = run('b');
    const c = run('c');
    await expect(run('d')).resolves.toEqual({ refused: true });
    expect(started).toEqual(['a']);
    first.open();
    await expect(Promise.all([a, b, c])).resolves.toEqual([
      { refused: false, value: 'a' },
      { refused: false, value: 'b' },
      { refused: false, value: 'c' },
    ]);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('frees its place when the work throws, and passes the error on', async () => {
    const bulkhead = new Bulkhead({ maxRunning: 1, maxWaiting: 0 });
    await expect(bulkhead.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(bulkhead.run(async () => 42)).resolves.toEqual({ refused: false, value: 42 });
  });

  it('refuses settings that would never run anything', () => {
    expect(() => new Bulkhead({ maxRunning: 0, maxWaiting: 1 })).toThrow(RangeError);
    expect(() => new Bulkhead({ maxRunning: 1, maxWaiting: -1 })).toThrow(RangeError);
  });
});
