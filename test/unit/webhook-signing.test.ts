import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { webhookIdOf } from '../../lib/tasks/task.ts';
import { DEVELOPMENT_WEBHOOK_SECRET, isWebhookSecret, signWebhook } from '../../lib/webhooks/signing.ts';

const TASK_ID = 'task_0f8fad5b-d9cb-469f-a165-70867728950e';
const BODY = JSON.stringify({ id: TASK_ID, name: 'add', state: 'SUCCESS', result: 21 });

/** A secret of `bytes` bytes, as Standard Webhooks writes them. */
function secretOf(bytes: number): string {
  return `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;
}

describe('signWebhook', () => {
  it('makes headers that Standard Webhooks verification accepts', () => {
    const headers = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, webhookIdOf(TASK_ID), new Date(), BODY);
    expect(new Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('gives the timestamp in whole seconds', () => {
    const headers = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_1', new Date('2026-01-02T03:04:05.987Z'), BODY);
    expect(headers['webhook-timestamp']).toBe(String(Date.parse('2026-01-02T03:04:05Z') / 1000));
    expect(headers['webhook-id']).toBe('msg_1');
  });

  it('fails verification when the body, the id or the secret differ', () => {
    const headers = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, webhookIdOf(TASK_ID), new Date(), BODY);
    const verifier = new Webhook(DEVELOPMENT_WEBHOOK_SECRET);
    expect(() => verifier.verify(BODY.replace('21', '22'), headers)).toThrow(WebhookVerificationError);
    expect(() => verifier.verify(BODY, { ...headers, 'webhook-id': 'msg_other' })).toThrow(WebhookVerificationError);
    expect(() => new Webhook(secretOf(32)).verify(BODY, headers)).toThrow(WebhookVerificationError);
  });

  it('signs each attempt with its own time, so a late retry is not refused as stale', () => {
    const first = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_1', new Date(Date.now() - 60 * 60_000), BODY);
    expect(() => new Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(BODY, first)).toThrow(/too old/);
    const retry = signWebhook(DEVELOPMENT_WEBHOOK_SECRET, 'msg_1', new Date(), BODY);
    expect(retry['webhook-signature']).not.toBe(first['webhook-signature']);
    expect(() => new Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(BODY, retry)).not.toThrow();
  });

  it('refuses to sign with something that is not a whsec_ secret', () => {
    expect(() => signWebhook('not-a-secret', 'msg_1', new Date(), BODY)).toThrow(RangeError);
  });
});

describe('webhookIdOf', () => {
  it('is the task id under msg_, the same on every call', () => {
    expect(webhookIdOf(TASK_ID)).toBe('msg_0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(webhookIdOf(TASK_ID)).toBe(webhookIdOf(TASK_ID));
  });

  it('differs between tasks', () => {
    expect(webhookIdOf('task_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa')).not.toBe(webhookIdOf(TASK_ID));
  });
});

describe('isWebhookSecret', () => {
  it('takes whsec_ and the base64 of 24 to 64 bytes', () => {
    expect(isWebhookSecret(secretOf(24))).toBe(true);
    expect(isWebhookSecret(secretOf(32))).toBe(true);
    expect(isWebhookSecret(secretOf(64))).toBe(true);
  });

  it.each([
    ['too short a key', secretOf(23)],
    ['too long a key', secretOf(65)],
    ['no prefix', Buffer.alloc(32, 7).toString('base64')],
    ['another prefix', `whsek_${Buffer.alloc(32, 7).toString('base64')}`],
    ['nothing after the prefix', 'whsec_'],
    ['characters outside base64', `whsec_${Buffer.alloc(32, 7).toString('base64url').replace(/.$/, '-')}`],
    ['bad padding', `whsec_${Buffer.alloc(32, 7).toString('base64')}==`],
  ])('refuses %s', (_name, value) => {
    expect(isWebhookSecret(value)).toBe(false);
  });

  it('holds for the development secret, which is 32 fixed, public bytes', () => {
    expect(isWebhookSecret(DEVELOPMENT_WEBHOOK_SECRET)).toBe(true);
    expect(Buffer.from(DEVELOPMENT_WEBHOOK_SECRET.slice('whsec_'.length), 'base64').toString('ascii')).toBe('doozer-local-development-webhook');
  });
});
