/**
 * Completion webhooks are signed the Standard Webhooks way (https://www.standardwebhooks.com), with
 * the spec's own library, so a receiver can check them with any of its libraries: the headers
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<HMAC-SHA256>` over
 * `id.timestamp.body`).
 */
import { Webhook } from 'standardwebhooks';

/**
 * The secret the local stage signs every user's webhooks with: the base64 of the 32 bytes
 * `doozer-local-development-webhook`. It is public on purpose (it is in the source for anyone to read),
 * so `npm run webhook-receiver` can check signatures with no set-up; no deployed stage may use it.
 */
export const DEVELOPMENT_WEBHOOK_SECRET = 'whsec_ZG9vemVyLWxvY2FsLWRldmVsb3BtZW50LXdlYmhvb2s=';

const SECRET_PREFIX = 'whsec_';
// Strict base64: Buffer.from(…, 'base64') skips what it does not understand, so it cannot tell.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The Standard Webhooks spec's bounds on the key; shorter is guessable, longer is a mistake. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/**
 * Whether `value` is a signing secret as Standard Webhooks writes them: `whsec_` and the base64 of
 * 24 to 64 random bytes. Settings check secrets with it so a mistyped one fails at start, not as
 * signatures no receiver accepts.
 */
export function isWebhookSecret(value: string): boolean {
  if (!value.startsWith(SECRET_PREFIX)) return false;
  const encoded = value.slice(SECRET_PREFIX.length);
  if (encoded === '' || !BASE64.test(encoded)) return false;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes >= MIN_SECRET_BYTES && bytes <= MAX_SECRET_BYTES;
}


/**
 * The headers that sign one delivery; the receiver checks them against the body as sent, byte for
 * byte. A type, not an interface, so it spreads into a `Record<string, string>` of headers.
 */
export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * Signs `body` as sent at `at` (whole seconds, as the spec's timestamp is). Each attempt is signed
 * anew with its own time: receivers refuse timestamps more than five minutes off, so a retry must
 * not reuse the first attempt's signature.
 *
 * @throws RangeError when `secret` is not a `whsec_` secret: signing with whatever the library
 * would make of it gives signatures no receiver accepts, silently.
 */
export function signWebhook(secret: string, webhookId: string, at: Date, body: string): WebhookSignatureHeaders {
  if (!isWebhookSecret(secret)) {
    throw new RangeError('the webhook signing secret must be `whsec_` and the base64 of 24 to 64 bytes');
  }
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(webhookId, at, body),
  };
}
