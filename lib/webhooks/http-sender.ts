/**
 * The one place a webhook leaves doozer: a POST to the task's callbackUrl, under the target policy.
 * It uses `node:http` rather than `fetch`, because only `http.request` lets us hand the socket its
 * addresses (`lookup`): the name is resolved once, every address it gave is checked, and the socket
 * connects to those and no others. A check made before `fetch` would resolve the name a second time,
 * and a name that answers a public address to the check and 169.254.169.254 to the connection (DNS
 * rebinding) would get through.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import {
  checkCallbackUrl,
  resolveHostname,
  systemResolve,
  WebhookTargetRefusedError,
  type Resolve,
  type TargetPolicy,
} from './target-policy.ts';

/**
 * How one attempt went. Only `response` reached the receiver; `refused` is the target policy's no,
 * which no retry would change, so the notifier gives up on it at once.
 */
export type SendResult =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'network'; readonly message: string }
  | { readonly kind: 'refused'; readonly message: string };

export interface WebhookRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends one attempt of a webhook; never throws for what the network or the receiver did. */
export interface WebhookSender {
  send(request: WebhookRequest): Promise<SendResult>;
}

export interface HttpWebhookSenderOptions {
  readonly policy: TargetPolicy;
  /** The whole exchange: resolution, connection, TLS, the request, the response's headers and body. */
  readonly timeoutMs?: number;
  readonly resolve?: Resolve;
  readonly userAgent?: string;
}

/** Long enough for a receiver that does its work before it answers; short enough that a dead one costs little. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** What is read of a response's body before the connection is dropped: it is never used, only drained. */
const MAX_RESPONSE_BODY_BYTES = 64 * 1024;

export class HttpWebhookSender implements WebhookSender {
  readonly #policy: TargetPolicy;
  readonly #timeoutMs: number;
  readonly #resolve: Resolve;
  readonly #userAgent: string;

  constructor({ policy, timeoutMs = DEFAULT_TIMEOUT_MS, resolve = systemResolve, userAgent = 'doozer-webhooks/1' }: HttpWebhookSenderOptions) {
    this.#policy = policy;
    this.#timeoutMs = timeoutMs;
    this.#resolve = resolve;
    this.#userAgent = userAgent;
  }

  /**
   * POSTs the body once. Redirects are not followed (a 3xx is the answer): following one would send
   * the signed body to a URL nobody checked. A literal IP host was judged by the URL check, since the
   * socket connects to it without a lookup; any other host is judged address by address in `lookup`.
   */
  send(request: WebhookRequest): Promise<SendResult> {
    // Checked again here, not only at submission: the policy may have changed, or the URL come from elsewhere.
    const checked = checkCallbackUrl(request.url, this.#policy);
    if (!checked.ok) return Promise.resolve({ kind: 'refused', message: checked.reason });
    const { url } = checked;

    return new Promise<SendResult>((resolveResult) => {
      let refusal: WebhookTargetRefusedError | undefined;
      const lookup: LookupFunction = (hostname, options, callback) => {
        resolveHostname(hostname, this.#policy, this.#resolve).then(
          (addresses) => {
            // A family is asked for only when the caller set one (`family: 6`); none here, but honour it.
            const family = options.family === 4 || options.family === 6 ? options.family : undefined;
            const usable = addresses.filter((candidate) => family === undefined || candidate.family === family);
            const first = usable[0];
            if (first === undefined) {
              callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '');
            } else if (options.all) {
              callback(null, usable.map(({ address, family: addressFamily }) => ({ address, family: addressFamily })));
            } else {
              callback(null, first.address, first.family);
            }
          },
          (error: NodeJS.ErrnoException) => {
            if (error instanceof WebhookTargetRefusedError) refusal = error;
            callback(error, '');
          },
        );
      };

      // A header value Node cannot send throws here, before any timer is set: a bug of the caller's, rejected.
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const outgoing = send(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#userAgent,
          ...request.headers,
          'content-length': String(Buffer.byteLength(request.body)),
        },
        lookup,
        // A fresh connection per attempt: a pooled one could outlive the check made for it.
        agent: false,
      });

      let settled = false;
      const settle = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolveResult(result);
        // Nothing more is wanted from this connection: a drained or abandoned body, or a timed-out exchange.
        outgoing.destroy();
      };
      const deadline = setTimeout(() => settle({ kind: 'timeout' }), this.#timeoutMs);

      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        settle(refusal ? { kind: 'refused', message: refusal.message } : { kind: 'network', message: describeNetworkError(error) });
      });
      outgoing.on('response', (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes >= MAX_RESPONSE_BODY_BYTES) settle({ kind: 'response', status });
        });
        response.on('end', () => settle({ kind: 'response', status }));
        response.on('error', (error: NodeJS.ErrnoException) => {
          settle({ kind: 'network', message: `the response broke off: ${describeNetworkError(error)}` });
        });
        response.on('close', () => {
          settle(response.complete ? { kind: 'response', status } : { kind: 'network', message: 'the connection closed before the response ended' });
        });
      });
      outgoing.end(request.body);
    });
  }
}

/** The error as an operator reads it in the delivery's `lastError`: its code (ECONNREFUSED…) and message. */
function describeNetworkError(error: NodeJS.ErrnoException): string {
  const { code, message } = error;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
