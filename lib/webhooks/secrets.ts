/**
 * Webhook signing secrets, as Standard Webhooks writes them. Apart from the signing itself
 * (signing.ts) so that what only checks a secret (the API's configuration) does not bundle the
 * signing library.
 */

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
