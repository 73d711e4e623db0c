import type { Clock } from '../../lib/clock.ts';

/**
 * Time that moves only when the service sleeps. Each sleep also yields to the event loop, so a
 * RecordingQueue consumer (scheduled with setImmediate) runs before the next read; `onSleep` lets a
 * test act (or hold) in the middle of a wait.
 */
export class FakeClock implements Clock {
  ms = Date.parse('2030-01-01T00:00:00.000Z');
  onSleep: (() => Promise<unknown> | undefined) | undefined;
  now(): number {
    return this.ms;
  }
  sleep = async (ms: number): Promise<void> => {
    this.ms += ms;
    await new Promise((resolve) => setImmediate(resolve));
    await this.onSleep?.();
  };
}
