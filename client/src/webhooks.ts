/**
 * Checking a task's completion webhook: the API POSTs the task's view to its `callbackUrl`, signed
 * the Standard Webhooks way (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`
 * (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`). The
 * signature is checked with the spec's own library; this file only reads the headers, names what
 * is wrong with a stable code, and checks that what was signed is a task view.
 */
import { Webhook, WebhookVerificationError as LibraryVerificationError } from 'standardwebhooks';
import { DoozerClientError, WebhookVerificationError } from './errors.ts';
import { TASK_STATES, type TaskView } from './types.ts';

/** Request headers as fetch (`Headers`), Node's `IncomingMessage#headers` or a plain object give them. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;
/** Standard Webhooks' tolerance, which the library applies: older or newer than this is refused. */
const TOLERANCE_SECONDS = 5 * 60;

/**
 * Checks a completion webhook and returns the task it carries. Give it the endpoint's secret
 * (`whsec_…`), the request's headers (any case) and its body exactly as received (the raw text or
 * Buffer: parsed and encoded again, it would no longer match its signature).
 *
 * The same task's end may arrive more than once (a retry after a lost answer): its `webhook-id` is
 * the same every time, so a receiver that must act once can drop an id it has seen.
 *
 * @throws WebhookVerificationError with `code` `missing_headers`, `invalid_timestamp` (more than 5
 *   minutes off this machine's clock), `invalid_signature` (another secret, or an altered body or
 *   id) or `invalid_body` (signed, but not a task view). Answer those with a 4xx and do not act.
 * @throws DoozerClientError `invalid_secret` when `secret` is not a Standard Webhooks secret (the
 *   receiver's configuration, not the request, is wrong).
 */
export function verifyWebhook<View extends TaskView = TaskView>(secret: string, headers: WebhookHeaders, body: string | Buffer): View {
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch (error) {
    throw new DoozerClientError('invalid_secret', 'the webhook secret is not a Standard Webhooks secret (whsec_ and base64)', { cause: error });
  }
  const signed = signatureHeaders(headers);
  const timestamp = signed['webhook-timestamp'];
  if (!/^\d+$/.test(timestamp)) {
    throw new WebhookVerificationError('invalid_timestamp', `webhook-timestamp ${JSON.stringify(timestamp)} is not Unix seconds`);
  }
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
  if (text === undefined) throw new TypeError('verifyWebhook: give the body as received, a string or a Buffer');
  try {
    // With jsonParse off: a body that is not JSON is told apart below, not thrown as a SyntaxError.
    webhook.verify(text, signed, { jsonParse: false });
  } catch (error) {
    if (!(error instanceof LibraryVerificationError)) throw error;
    const age = Math.floor(Date.now() / 1000) - Number(timestamp);
    if (Math.abs(age) > TOLERANCE_SECONDS) {
      const off = age > 0 ? `${age} s old` : `${-age} s ahead of this machine's clock`;
      throw new WebhookVerificationError('invalid_timestamp', `webhook-timestamp is ${off}; at most ${TOLERANCE_SECONDS} s either way is accepted`, { cause: error });
    }
    throw new WebhookVerificationError('invalid_signature', 'no webhook-signature matches the body with this secret', { cause: error });
  }
  let view: unknown;
  try {
    view = JSON.parse(text);
  } catch (error) {
    throw new WebhookVerificationError('invalid_body', 'the webhook body is not JSON', { cause: error });
  }
  if (!isTaskView(view)) throw new WebhookVerificationError('invalid_body', 'the webhook body is not a task view (id, name, state)');
  return view as View;
}

/** The three signature headers, found in any case; several values of one (a repeated header) are joined with spaces, as the signature list is. */
function signatureHeaders(headers: WebhookHeaders): Record<(typeof SIGNATURE_HEADERS)[number], string> {
  const lower = new Map<string, string>();
  if (headers instanceof Headers) {
    headers.forEach((value, name) => lower.set(name.toLowerCase(), value));
  } else {
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      lower.set(name.toLowerCase(), typeof value === 'string' ? value : value.join(' '));
    }
  }
  const missing = SIGNATURE_HEADERS.filter((name) => !lower.get(name));
  if (missing.length > 0) throw new WebhookVerificationError('missing_headers', `the webhook has no ${missing.join(', ')} header${missing.length > 1 ? 's' : ''}`);
  return {
    'webhook-id': lower.get('webhook-id')!,
    'webhook-timestamp': lower.get('webhook-timestamp')!,
    'webhook-signature': lower.get('webhook-signature')!,
  };
}

function isTaskView(value: unknown): value is TaskView {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { id, name, state } = value as Record<string, unknown>;
  return typeof id === 'string' && typeof name === 'string' && TASK_STATES.includes(state as TaskView['state']);
}
