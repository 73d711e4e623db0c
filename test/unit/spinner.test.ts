import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startSpinner } from '../../client/src/spinner.ts';

function stream(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (chunk: string) => writes.push(chunk) } as unknown as NodeJS.WriteStream };
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

  it('cuts the text to the width of the terminal, so the line never wraps and can be redrawn', () => {
    const { writes, stream: tty } = stream(true, 20);
    const spinner = startSpinner(tty, 'waiting for task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006');
    spinner.update('short');
    vi.advanceTimersByTime(80);
    spinner.stop();
    expect(writes[0]).toBe('\r\x1b[2K⠋ waiting for task…');
    expect(writes[0]!.length - '\r\x1b[2K'.length).toBeLessThan(20);
    expect(writes[1]).toBe('\r\x1b[2K⠙ short');
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { writes, stream: pipe } = stream(false);
    const spinner = startSpinner(pipe, 'waiting');
    vi.advanceTimersByTime(1_000);
    spinner.stop();
    expect(writes).toEqual([]);
  });
});
