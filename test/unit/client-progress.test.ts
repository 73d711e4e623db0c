import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { percent, plainLine, progressBar, startProgress, terminalLine } from '../../client/src/progress.ts';
import type { TaskProgress, TaskView } from '../../client/src/types.ts';

const ID = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';

function view(progress?: Partial<TaskProgress>, state: TaskView['state'] = 'PENDING'): TaskView {
  return {
    id: ID,
    name: 'sleep',
    args: { ms: 3000 },
    state,
    ...(progress && { progress: { fraction: 0, at: '2026-01-01T00:00:00.000Z', ...progress } }),
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-08T00:00:00.000Z',
  };
}

function stream(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (chunk: string) => writes.push(chunk) } as unknown as NodeJS.WriteStream };
}

describe('progress lines', () => {
  it.each<[number, number]>([
    [0, 0],
    [0.004, 0],
    [0.5, 50],
    [0.999, 99],
    [1, 100],
    [1.5, 100],
    [-1, 0],
    [Number.NaN, 0],
  ])('percent(%d) is %d: rounded down, so 100%% means done', (fraction, expected) => {
    expect(percent(fraction)).toBe(expected);
  });

  it('draws a bar of 20 cells, or of the width asked', () => {
    expect(progressBar(0)).toBe(`[${'.'.repeat(20)}]`);
    expect(progressBar(0.5)).toBe(`[${'#'.repeat(10)}${'.'.repeat(10)}]`);
    expect(progressBar(1)).toBe(`[${'#'.repeat(20)}]`);
    expect(progressBar(0.5, 10)).toBe('[#####.....]');
  });

  it("shows the bar, the percent, the task's message and the id on a terminal", () => {
    expect(terminalLine(view({ fraction: 0.5, message: '3 s to go' }))).toBe(`[##########..........]  50%  3 s to go  ${ID}`);
    expect(terminalLine(view({ fraction: 0.05, message: '3 s to go' }))).toBe(`[#...................]   5%  3 s to go  ${ID}`);
  });

  it('shows done/total when the task sent no message, and marks a RETRY', () => {
    expect(terminalLine(view({ fraction: 0.25, done: 250, total: 1000 }))).toBe(`[#####...............]  25%  250/1000  ${ID}`);
    expect(terminalLine(view({ fraction: 0.25 }, 'RETRY'))).toBe(`[#####...............]  25%  ${ID} (RETRY)`);
  });

  it('shows the state until the task reports progress', () => {
    expect(terminalLine(view())).toBe(`waiting for ${ID}: PENDING`);
  });

  it('keeps control characters of a message off the terminal', () => {
    expect(terminalLine(view({ fraction: 0.1, message: 'a\x1b[2Jb\nc\r' }))).toBe(`[##..................]  10%  a [2Jb c  ${ID}`);
  });

  it('gives plain lines with the percent and the message, and none before any progress', () => {
    expect(plainLine(view({ fraction: 0.5, message: '3 s to go', done: 1500, total: 3000 }))).toBe('progress 50% 3 s to go');
    expect(plainLine(view({ fraction: 0.25 }))).toBe('progress 25%');
    expect(plainLine(view({ fraction: 0.25 }, 'RETRY'))).toBe('progress 25% (RETRY)');
    expect(plainLine(view())).toBeUndefined();
  });
});

describe('startProgress', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('prints a plain line when not on a terminal, only when the percent or the message changes', () => {
    const { writes, stream: pipe } = stream(false);
    const display = startProgress(pipe, view());
    display.update(view({ fraction: 0.1, message: '3 s to go', done: 300, total: 3000 }));
    display.update(view({ fraction: 0.105, message: '3 s to go', done: 315, total: 3000 }));
    display.update(view({ fraction: 0.2, message: '3 s to go' }));
    display.update(view({ fraction: 0.2, message: '2 s to go' }));
    display.update(view({ fraction: 0.2, message: '2 s to go' }));
    vi.advanceTimersByTime(1_000);
    display.stop();
    expect(writes).toEqual(['progress 10% 3 s to go\n', 'progress 20% 3 s to go\n', 'progress 20% 2 s to go\n']);
  });

  it('prints the progress the first view already has', () => {
    const { writes, stream: pipe } = stream(false);
    startProgress(pipe, view({ fraction: 0.4, message: 'x' })).stop();
    expect(writes).toEqual(['progress 40% x\n']);
  });

  it('redraws one line in place on a terminal, with the bar once there is progress, and clears it at the end', () => {
    const { writes, stream: tty } = stream(true);
    const display = startProgress(tty, view());
    expect(writes[0]).toBe(`\r\x1b[2K⠋ waiting for ${ID}: PENDING`);
    display.update(view({ fraction: 0.5, message: '3 s to go' }));
    vi.advanceTimersByTime(80);
    expect(writes.at(-1)).toBe(`\r\x1b[2K⠙ [##########..........]  50%  3 s to go  ${ID}`);
    display.stop();
    expect(writes.at(-1)).toBe('\r\x1b[2K');
    expect(writes.every((chunk) => !chunk.includes('\n'))).toBe(true);
    const count = writes.length;
    vi.advanceTimersByTime(1_000);
    expect(writes).toHaveLength(count);
  });

  it('cuts the line to the width of the terminal', () => {
    const { writes, stream: tty } = stream(true, 40);
    const display = startProgress(tty, view({ fraction: 0.5, message: '3 s to go' }));
    display.stop();
    expect(writes[0]).toBe('\r\x1b[2K⠋ [##########..........]  50%  3 s to…');
    expect(writes[0]!.length - '\r\x1b[2K'.length).toBeLessThan(40);
  });
});
