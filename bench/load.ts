import { Agent, request as httpRequest } from 'node:http';

/**
 * The benchmark's load generator: keep-alive HTTP/1.1 on loopback, closed loops (each of N workers
 * sends its next request when the previous answer has arrived), bounded in count and in time.
 */

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** Only loopback: the benchmark must never send load anywhere else. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A keep-alive HTTP client for one loopback origin. One socket per concurrent caller is kept open
 * between requests, so a measured request never pays for a TCP handshake.
 */
export class LoopbackClient {
  readonly #url: URL;
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, { sockets, timeoutMs }: { sockets: number; timeoutMs: number }) {
    this.#url = new URL(baseUrl);
    if (this.#url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(this.#url.hostname)) {
      throw new Error(`the benchmark only sends load to http on loopback, not to ${baseUrl}`);
    }
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' });
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one request; rejects on a network error or when no answer came within the timeout. */
  send(method: 'GET' | 'POST', path: string, options: { body?: unknown; token?: string } = {}): Promise<HttpAnswer> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: this.#url.hostname, port: this.#url.port, method, path, headers, agent: this.#agent, timeout: this.#timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} within ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** One API request as the phases make it (through a LoopbackClient with the bench user's token): its status and body. */
export type Call = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<{ status: number; body: string }>;

/** What one operation of a closed loop reports: whether it counts as done, and what went wrong if not. */
export type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface LoopOptions {
  /** Operations to run in all. */
  readonly count: number;
  readonly concurrency: number;
  /** Stop starting operations after this many ms (the run is then marked truncated). */
  readonly maxMs: number;
  /** One operation; `index` runs from 0 to count - 1. Its duration is measured around this call. */
  readonly operation: (index: number) => Promise<Outcome>;
  /** Awaited before each operation, outside its measured duration (a paced loop waits for quiet). */
  readonly pause?: () => Promise<void>;
}

export interface LoopResult {
  /** Operations started. */
  readonly attempted: number;
  /** Durations in ms of the operations that succeeded, in completion order. */
  readonly latenciesMs: number[];
  readonly errors: number;
  /** Up to five error descriptions with how often each occurred, for the report. */
  readonly errorSamples: Record<string, number>;
  /** Wall-clock ms from the first start to the last end. */
  readonly elapsedMs: number;
  /** True when the time bound stopped the loop before `count` operations. */
  readonly truncated: boolean;
}

/**
 * Runs `count` operations with `concurrency` callers, each starting its next operation when its
 * previous one has ended (a closed loop: the offered load adapts to the service, as real clients do).
 */
export async function runClosedLoop({ count, concurrency, maxMs, operation, pause }: LoopOptions): Promise<LoopResult> {
  const latenciesMs: number[] = [];
  const errorSamples: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  let truncated = false;
  const started = performance.now();
  const deadline = started + maxMs;

  const caller = async () => {
    while (next < count) {
      if (performance.now() >= deadline) {
        truncated = true;
        return;
      }
      const index = next++;
      await pause?.();
      const t0 = performance.now();
      let outcome: Outcome;
      try {
        outcome = await operation(index);
      } catch (error) {
        outcome = { ok: false, error: (error as Error).message };
      }
      const ms = performance.now() - t0;
      if (outcome.ok) {
        latenciesMs.push(ms);
      } else {
        errors += 1;
        const key = outcome.error.slice(0, 200);
        if (key in errorSamples || Object.keys(errorSamples).length < 5) errorSamples[key] = (errorSamples[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, caller));
  return { attempted: next, latenciesMs, errors, errorSamples, elapsedMs: performance.now() - started, truncated };
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles (the smallest value with at least p% of the samples at or below it), in ms. */
export function summarize(latenciesMs: readonly number[]): LatencySummary {
  if (latenciesMs.length === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    p50: round(rank(50)),
    p90: round(rank(90)),
    p99: round(rank(99)),
    max: round(sorted.at(-1)!),
    mean: round(sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length),
  };
}

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
