import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { DoozerClient } from '../../client/src/doozer-client.ts';
import { DoozerClientError, WebhookVerificationError } from '../../client/src/errors.ts';
import type { TaskView } from '../../client/src/types.ts';
import { verifyWebhook } from '../../client/src/webhooks.ts';

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = secret();
const MESSAGE_ID = 'msg_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';

const TASK: TaskView = {
  id: 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006',
  name: 'add',
  args: [1, 2],
  state: 'SUCCESS',
  result: 3,
  callbackUrl: 'https://example.com/hooks/doozer',
  createdAt: '2026-12-01T12:00:00.000Z',
  updatedAt: '2026-12-01T12:00:01.000Z',
  expiresAt: '2026-12-08T12:00:00.000Z',
};
const BODY = JSON.stringify(TASK);

/** The headers the API sends with `body`, signed with `key` at `at` by the spec's own library. */
function signed(body: string, { key = SECRET, at = new Date(), id = MESSAGE_ID } = {}): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(key).sign(id, at, body),
  };
}

/** The WebhookVerificationError that `check` throws (failing the test when it throws none or another). */
function refusal(check: () => unknown): WebhookVerificationError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return error as WebhookVerificationError;
  }
  throw new Error('expected a WebhookVerificationError');
}

describe('verifyWebhook', () => {
  it('returns the task of a webhook signed with the secret, from a string or a Buffer', () => {
    expect(verifyWebhook(SECRET, signed(BODY), BODY)).toEqual(TASK);
    expect(verifyWebhook(SECRET, signed(BODY), Buffer.from(BODY))).toEqual(TASK);
  });

  it('is also DoozerClient.verifyWebhook', () => {
    expect(DoozerClient.verifyWebhook(SECRET, signed(BODY), BODY)).toEqual(TASK);
  });

  it('finds the headers in any case, in a Headers object or as Node gives them', () => {
    const headers = signed(BODY);
    const shouted = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    const mixed = { 'Webhook-Id': headers['webhook-id']!, 'Webhook-Timestamp': headers['webhook-timestamp']!, 'Webhook-Signature': headers['webhook-signature']! };
    expect(verifyWebhook(SECRET, shouted, BODY)).toEqual(TASK);
    expect(verifyWebhook(SECRET, mixed, BODY)).toEqual(TASK);
    expect(verifyWebhook(SECRET, new Headers(mixed), BODY)).toEqual(TASK);
    // IncomingMessage#headers: lower case, other headers beside them, some undefined.
    expect(verifyWebhook(SECRET, { ...headers, 'content-type': 'application/json', 'x-absent': undefined }, BODY)).toEqual(TASK);
  });

  it('accepts a signature among several (the sender rotating its secret)', () => {
    const headers = signed(BODY);
    const other = signed(BODY, { key: secret() })['webhook-signature'];
    expect(verifyWebhook(SECRET, { ...headers, 'webhook-signature': `${other} ${headers['webhook-signature']}` }, BODY)).toEqual(TASK);
  });

  it('refuses a body altered after signing: invalid_signature', () => {
    const tampered = BODY.replace('"result":3', '"result":4');
    expect(refusal(() => verifyWebhook(SECRET, signed(BODY), tampered)).code).toBe('invalid_signature');
    // Re-encoding counts as altering: the body must be checked as received.
    const reformatted = JSON.stringify(TASK, null, 2);
    expect(refusal(() => verifyWebhook(SECRET, signed(BODY), reformatted)).code).toBe('invalid_signature');
  });

  it('refuses a webhook signed with another secret, or for another message id: invalid_signature', () => {
    expect(refusal(() => verifyWebhook(SECRET, signed(BODY, { key: secret() }), BODY)).code).toBe('invalid_signature');
    const headers = { ...signed(BODY), 'webhook-id': 'msg_another' };
    expect(refusal(() => verifyWebhook(SECRET, headers, BODY)).code).toBe('invalid_signature');
  });

  it('refuses a timestamp more than 5 minutes old or ahead, even well signed: invalid_timestamp', () => {
    const stale = refusal(() => verifyWebhook(SECRET, signed(BODY, { at: new Date(Date.now() - 6 * 60_000) }), BODY));
    expect(stale.code).toBe('invalid_timestamp');
    expect(stale.message).toMatch(/^webhook-timestamp is 36\d s old/);
    expect(refusal(() => verifyWebhook(SECRET, signed(BODY, { at: new Date(Date.now() + 6 * 60_000) }), BODY)).code).toBe('invalid_timestamp');
    // Within the tolerance it is fine.
    expect(verifyWebhook(SECRET, signed(BODY, { at: new Date(Date.now() - 4 * 60_000) }), BODY)).toEqual(TASK);
  });

  it('refuses a timestamp that is not Unix seconds: invalid_timestamp', () => {
    const headers = { ...signed(BODY), 'webhook-timestamp': '2026-12-01T12:00:00Z' };
    expect(refusal(() => verifyWebhook(SECRET, headers, BODY)).code).toBe('invalid_timestamp');
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('refuses a webhook without %s: missing_headers, naming it', (name) => {
    const headers: Record<string, string> = signed(BODY);
    delete headers[name];
    const error = refusal(() => verifyWebhook(SECRET, headers, BODY));
    expect(error.code).toBe('missing_headers');
    expect(error.message).toContain(name);
  });

  it('refuses a signed body that is not a task view: invalid_body', () => {
    for (const body of ['not json', '[1,2]', '{"id":"task_x"}', '']) {
      expect(refusal(() => verifyWebhook(SECRET, signed(body), body)).code).toBe('invalid_body');
    }
  });

  it("throws DoozerClientError invalid_secret, not a verification error, for a secret that is not one (the receiver's own fault)", () => {
    for (const bad of ['', 'whsec_', 'whsec_not*base64!']) {
      let caught: unknown;
      try {
        verifyWebhook(bad, signed(BODY), BODY);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DoozerClientError);
      expect(caught).not.toBeInstanceOf(WebhookVerificationError);
      expect((caught as DoozerClientError).code).toBe('invalid_secret');
    }
  });
});

describe('the published package', () => {
  it('exports verifyWebhook and WebhookVerificationError with standardwebhooks bundled in (client/dist, as built)', async () => {
    // A URL, not a specifier: the test reads the bundle as a consumer's import would, untyped.
    const dist = new URL('../../client/dist/index.mjs', import.meta.url).href;
    const published = (await import(dist)) as { verifyWebhook: typeof verifyWebhook; WebhookVerificationError: typeof WebhookVerificationError };
    expect(published.verifyWebhook(SECRET, signed(BODY), BODY)).toEqual(TASK);
    expect(() => published.verifyWebhook(SECRET, signed(BODY), `${BODY} `)).toThrow(published.WebhookVerificationError);
  });
});
