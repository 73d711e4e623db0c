/**
 * Completion webhooks are signed the Standard Webhooks way (https://www.standardwebhooks.com), with
 * the spec's own library, so a receiver can check them with any of its libraries: the headers
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<HMAC-SHA256>` over
 * `id.timestamp.body`).
 */
import { Webhook } from 'standardwebhooks';
import { isWebhookSecret } from './secrets.ts';

export { DEVELOPMENT_WEBHOOK_SECRET, isWebhookSecret } from './secrets.ts';

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
