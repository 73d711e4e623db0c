/**
 * `npm run webhook-receiver`: a webhook endpoint on this machine, to watch the local stack's
 * completion webhooks arrive. Each delivery is one line: when, its webhook-id, the task's id and
 * state, and whether its signature checks out with the secret the local stage signs with.
 *
 *   npm run webhook-receiver                    listen on 127.0.0.1:3005 (DOOZER_WEBHOOK_RECEIVER_PORT)
 *   npm run webhook-receiver -- --port 3006     another port
 *   npm run webhook-receiver -- --fail 2        answer 500 to each webhook's first 2 attempts, to watch the retries
 *
 * Signatures are checked with DOOZER_WEBHOOK_SECRET when set, else with the local stage's public
 * development secret. A delivery whose signature is wrong is still answered (and shown as INVALID):
 * this is a viewer, and a refusal here would only hide the delivery from the notifier's side.
 */
import { realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { DEVELOPMENT_WEBHOOK_SECRET, isWebhookSecret } from '../lib/webhooks/signing.ts';

export const DEFAULT_RECEIVER_PORT = 3005;
/** Deliveries are one task each; a body larger than this is not one of ours, and is not kept. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookReceiverOptions {
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly secret: string;
  /** Answer 500 to the first this-many attempts of each webhook-id, then 204. */
  readonly failFirst?: number;
  /** Where each delivery's line goes. */
  readonly log: (line: string) => void;
  /** Each delivery as data, for tests and callers that want more than the line. */
  readonly onDelivery?: (delivery: ReceivedDelivery) => void;
}

export interface ReceivedDelivery {
  readonly webhookId: string | undefined;
  readonly taskId: string | undefined;
  readonly state: string | undefined;
  /** undefined when the signature checks out; otherwise why not. */
  readonly signatureError: string | undefined;
  /** Which attempt of this webhook-id it is, counted from 1 since the receiver started. */
  readonly attempt: number;
  /** What the receiver answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  /** The callbackUrl to give tasks. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the receiver on 127.0.0.1. Rejects when the port is taken (the error's `code` is
 * `EADDRINUSE`), instead of leaving a receiver that nobody's webhooks reach.
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const { secret, failFirst = 0, log, onDelivery } = options;
  const verifier = new Webhook(secret);
  const attempts = new Map<string, number>();

  const server = createServer((request, response) => {
    void receive(request, response).catch((error: unknown) => {
      log(`${clockTime()}  could not read a delivery: ${(error as Error).message}`);
      if (!response.headersSent) response.writeHead(400).end();
    });
  });

  async function receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const body = await readBody(request);
    const headers = singleValued(request);
    const webhookId = headers['webhook-id'];
    const attempt = (attempts.get(webhookId ?? '') ?? 0) + 1;
    attempts.set(webhookId ?? '', attempt);
    const status = attempt <= failFirst ? 500 : 204;
    let signatureError: string | undefined;
    try {
      // The raw body as received: a parsed and re-serialised one would not match the signature.
      verifier.verify(body, headers);
    } catch (error) {
      signatureError = (error as Error).message;
    }
    const { taskId, state } = taskOf(body);
    response.writeHead(status).end();
    log(
      [
        clockTime(),
        webhookId ?? '(no webhook-id)',
        taskId ?? '(no task id)',
        state ?? '(no state)',
        signatureError === undefined ? 'signature ok' : `signature INVALID (${signatureError})`,
        `attempt ${attempt} -> ${status}`,
      ].join('  '),
    );
    onDelivery?.({ webhookId, taskId, state, signatureError, attempt, status });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) throw new Error(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request's headers as the verifier takes them: one string each (a repeated header is joined, as Node does). */
function singleValued(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** The task's id and state: the body is the task as the API shows it; `data` is where Standard Webhooks' examples put it. */
function taskOf(body: string): { taskId: string | undefined; state: string | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { taskId: undefined, state: 'a body that is not JSON' };
  }
  const record = (value: unknown): Record<string, unknown> | undefined =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  const top = record(parsed);
  const task = typeof top?.id === 'string' ? top : (record(top?.data) ?? top);
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return { taskId: text(task?.id), state: text(task?.state) };
}

function clockTime(): string {
  return new Date().toISOString().slice(11, 23);
}

const USAGE = `usage: npm run webhook-receiver [-- [--port N] [--fail N]]

  --port N   listen on 127.0.0.1:N (default DOOZER_WEBHOOK_RECEIVER_PORT, else ${DEFAULT_RECEIVER_PORT})
  --fail N   answer 500 to the first N attempts of each webhook, then 204, to watch the retries
  --help     this text

Signatures are checked with DOOZER_WEBHOOK_SECRET, else with the local stage's development secret.`;

interface CliSettings {
  readonly port: number;
  readonly failFirst: number;
  readonly secret: string;
  readonly secretName: string;
}

/** The command line and environment, checked: every fault is reported, with the usage. */
export function parseReceiverCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliSettings | { help: true } | { errors: string[] } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { port: { type: 'string' }, fail: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    return { errors: [(error as Error).message] };
  }
  if (values.help) return { help: true };
  const errors: string[] = [];
  const integer = (name: string, raw: string | undefined, fallback: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(value <= max)) errors.push(`${name} must be a whole number from 0 to ${max} (got ${JSON.stringify(raw)})`);
    return value;
  };
  const port = values.port === undefined
    ? integer('DOOZER_WEBHOOK_RECEIVER_PORT', env.DOOZER_WEBHOOK_RECEIVER_PORT, DEFAULT_RECEIVER_PORT, 65_535)
    : integer('--port', values.port, DEFAULT_RECEIVER_PORT, 65_535);
  const failFirst = integer('--fail', values.fail, 0, 1_000);
  const secretFromEnv = env.DOOZER_WEBHOOK_SECRET;
  if (secretFromEnv !== undefined && !isWebhookSecret(secretFromEnv)) {
    errors.push('DOOZER_WEBHOOK_SECRET must be `whsec_` and the base64 of 24 to 64 bytes');
  }
  if (errors.length > 0) return { errors };
  return secretFromEnv === undefined
    ? { port, failFirst, secret: DEVELOPMENT_WEBHOOK_SECRET, secretName: 'the development secret' }
    : { port, failFirst, secret: secretFromEnv, secretName: 'DOOZER_WEBHOOK_SECRET' };
}

async function main(): Promise<number> {
  const settings = parseReceiverCli(process.argv.slice(2), process.env);
  if ('help' in settings) {
    console.log(USAGE);
    return 0;
  }
  if ('errors' in settings) {
    console.error(`webhook-receiver: ${settings.errors.join('; ')}\n\n${USAGE}`);
    return 2;
  }
  let receiver: WebhookReceiver;
  try {
    receiver = await startWebhookReceiver({ ...settings, log: (line) => console.log(line) });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    console.error(
      code === 'EADDRINUSE'
        ? `webhook-receiver: port ${settings.port} on 127.0.0.1 is taken (another receiver?); choose another with --port N or DOOZER_WEBHOOK_RECEIVER_PORT`
        : `webhook-receiver: could not listen on 127.0.0.1:${settings.port}: ${message}`,
    );
    return 1;
  }
  console.log(`webhook receiver listening; give tasks "callbackUrl": "${receiver.url}"`);
  console.log(`checking signatures with ${settings.secretName}${settings.failFirst > 0 ? `; answering 500 to each webhook's first ${settings.failFirst} attempts` : ''}; Ctrl-C stops`);
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  await receiver.close();
  return 0;
}

// Run as a script (npm run webhook-receiver), not when a test imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main();
}
