import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startSpinner } from '../../client/src/spinner.ts';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (chunk: string) => writes.push(chunk) } as unknown as NodeJS.WriteStream };
}

describe('startSpinner', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('animates on a terminal and clears its line when stopped', () => {
    const { writes, stream: tty } = stream(true);
    const spinner = startSpinner(tty, 'waiting for task_1');
    vi.advanceTimersByTime(250);
    spinner.update('task_1 is STARTED');
    vi.advanceTimersByTime(100);
    spinner.stop();
    expect(writes.length).toBeGreaterThan(3);
    expect(writes[0]).toContain('waiting for task_1');
    expect(writes.at(-2)).toContain('task_1 is STARTED');
    expect(writes.at(-1)).toBe('\r\x1b[2K');
    const count = writes.length;
    vi.advanceTimersByTime(1_000);
    expect(writes).toHaveLength(count);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { writes, stream: pipe } = stream(false);
    const spinner = startSpinner(pipe, 'waiting');
    vi.advanceTimersByTime(1_000);
    spinner.stop();
    expect(writes).toEqual([]);
  });
});
