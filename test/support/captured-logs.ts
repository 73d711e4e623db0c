import { expect, vi } from 'vitest';

/**
 * What Powertools Logger writes, as CloudWatch would get it: JSON lines on stdout and stderr.
 * Powertools writes through its own Console bound to process.stdout/stderr (its documented test
 * hook, POWERTOOLS_DEV, switches to the global console and pretty-prints, which is not what Lambda
 * writes), so this captures the streams' writes, and keeps them from the terminal until `restore`.
 */
export interface LogLine {
  readonly raw: string;
  readonly json: Record<string, unknown>;
}

export class CapturedLogs {
  readonly #written: string[] = [];

  constructor() {
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        this.#written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      });
    }
  }

  /** Forgets what was written so far. */
  clear(): void {
    this.#written.length = 0;
  }

  /** The lines written so far; a line that is not a JSON object fails the test. */
  lines(): LogLine[] {
    return this.#written
      .join('')
      .split('\n')
      .filter((raw) => raw !== '')
      .map((raw) => {
        let json: unknown;
        expect(() => (json = JSON.parse(raw)), `not JSON: ${raw}`).not.toThrow();
        expect(json, raw).toBeTypeOf('object');
        return { raw, json: json as Record<string, unknown> };
      });
  }

  restore(): void {
    vi.restoreAllMocks();
  }
}
