import { TERMINAL_STATES, type TaskView, isTerminal } from '../../tasks/task.ts';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../webhooks/delivery-schedule.ts';
import { DEVELOPMENT_WEBHOOK_SECRET } from '../../webhooks/secrets.ts';
import { WebhookIdSchema } from '../response-schemas.ts';
import { type JsonSchema, jsonContent, jsonSchema, ref } from './json-schema.ts';

/**
 * The document's `webhooks` section: the `taskEnded` webhook that doozer POSTs to a task's
 * callbackUrl, its body schema and its Standard Webhooks headers.
 */

/**
 * The body of the `taskEnded` webhook (`webhookPayloadOf` in lib/tasks/task.ts): the task view once it
 * ended, which has a callbackUrl, without `webhook` (the delivery's own record, which the body cannot know).
 */
export function taskEndedPayload(responses: Record<string, JsonSchema>): JsonSchema {
  const examples = (responses.TaskView?.examples ?? []) as Partial<TaskView>[];
  return {
    description:
      'The task as `GET /tasks/{id}` shows it once it ended (SUCCESS, FAILURE or CANCELLED), without `webhook`; ' +
      '`name` tells which type it is. The same body, byte for byte, on every attempt of a delivery.',
    allOf: [
      ref('Task'),
      {
        type: 'object',
        required: ['callbackUrl'],
        properties: { state: { enum: [...TERMINAL_STATES] }, callbackUrl: { type: 'string' }, webhook: false },
      },
    ],
    examples: examples
      .filter((example) => example.callbackUrl !== undefined && example.state !== undefined && isTerminal(example.state))
      .map(({ webhook: _delivery, ...payload }) => payload),
  };
}

/**
 * The headers of the third TaskView example's delivery: signed (`signWebhook`, lib/webhooks/signing.ts)
 * with the local stage's development secret at its end, over its `taskEnded` body, so a receiver can
 * try its check on them. Written out rather than signed here: the API does not bundle the signing
 * library. test/unit/openapi.test.ts signs the example again and compares.
 */
const WEBHOOK_EXAMPLE_HEADERS = {
  'webhook-id': 'msg_7a3d2c41-9e5b-4f60-8b1a-2c4d6e8f0a13',
  'webhook-timestamp': '1735732800',
  'webhook-signature': 'v1,Zx4rWFYwXk3QoJmPjdcM+lPB1E+Pjmd4N39ptFN2fNw=',
} as const;

/** The Standard Webhooks headers of the `taskEnded` webhook (lib/webhooks/signing.ts), as parameters. */
export function webhookParameters(): Record<string, JsonSchema> {
  const { description: _description, ...idSchema } = jsonSchema(WebhookIdSchema, 'output');
  const header = (name: keyof typeof WEBHOOK_EXAMPLE_HEADERS, description: string, schema: JsonSchema) => ({
    name,
    in: 'header',
    required: true,
    description,
    schema,
    example: WEBHOOK_EXAMPLE_HEADERS[name],
  });
  return {
    WebhookId: header(
      'webhook-id',
      'The delivery\'s id, `msg_` and the task id\'s UUID: the same on every attempt of it (and the task\'s `webhook.id`). ' +
        'Deliveries are at least once, so keep the ids you have handled and skip one seen before.',
      idSchema,
    ),
    WebhookTimestamp: header(
      'webhook-timestamp',
      'When this attempt was signed, in Unix seconds; each attempt is signed anew. Refuse one more than 5 minutes from your ' +
        'clock (a replayed request).',
      { type: 'string', pattern: '^\\d+$' },
    ),
    WebhookSignature: header(
      'webhook-signature',
      '`v1,` and the base64 of the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` (the body as received, byte for ' +
        'byte), keyed with the base64-decoded part of your `whsec_` secret after the prefix. A space-separated list should ' +
        'there ever be more than one (a key rotation): accept the request when one of them matches. Any Standard Webhooks ' +
        'library checks it. The examples sign the example body with the local stage\'s development secret ' +
        `(\`${DEVELOPMENT_WEBHOOK_SECRET}\`).`,
      { type: 'string', pattern: '^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$' },
    ),
  };
}

/** The `taskEnded` webhook, in words, with the retry schedule of lib/webhooks/webhook-notifier.ts. */
function webhookText(): string {
  const schedule = DEFAULT_RETRY_SCHEDULE_SECONDS.map(durationText).join(', ');
  const lastAfterHours = Math.round(DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((sum, seconds) => sum + seconds, 0) / 3600);
  return (
    'When a task with a `callbackUrl` ends (SUCCESS, FAILURE or CANCELLED), doozer POSTs it there as JSON, signed per ' +
    '[Standard Webhooks](https://www.standardwebhooks.com) with your user\'s `whsec_` secret: check `webhook-signature` ' +
    'against the raw body before you trust it. A task that was never accepted (its submission failed) is not sent. ' +
    // The bound is HttpWebhookSender's (lib/webhooks/http-sender.ts).
    'An answer within 10 s with a 2xx status delivers it. ' +
    `A 429, a 5xx, a timeout or a failed connection is tried again after ${schedule} ` +
    `(${DEFAULT_RETRY_SCHEDULE_SECONDS.length + 1} attempts, the last about ${lastAfterHours} hours after the first); ` +
    'any other answer fails the delivery at once: redirects are not followed. So does a host that resolves to a private, ' +
    'loopback (outside the local stage), link-local or cloud metadata address, checked on every connection. ' +
    'Delivery is at least once: the same delivery may come more than once, always with the same `webhook-id`, so ' +
    'deduplicate on it. The task\'s `webhook` field (`GET /tasks/{id}`) shows how the delivery is going.'
  );
}

/** 5 -> "5 s", 300 -> "5 min", 7200 -> "2 h". */
function durationText(seconds: number): string {
  if (seconds < 60 || seconds % 60 !== 0) return `${seconds} s`;
  if (seconds < 3600 || seconds % 3600 !== 0) return `${seconds / 60} min`;
  return `${seconds / 3600} h`;
}

/** The `webhooks` section, given the document's schemas and the parameters of `webhookParameters()`. */
export function webhooks(schemas: Record<string, JsonSchema>, parameters: Record<string, JsonSchema>): JsonSchema {
  return {
    taskEnded: {
      post: {
        operationId: 'taskEnded',
        tags: ['webhooks'],
        summary: 'A task with a callbackUrl ended',
        description: webhookText(),
        parameters: Object.keys(parameters).map((name) => ({ $ref: `#/components/parameters/${name}` })),
        requestBody: { required: true, content: jsonContent('TaskEndedPayload', schemas) },
        responses: {
          '2XX': { description: 'Delivered: the task\'s `webhook.state` becomes `delivered`. The answer\'s body is not read.' },
          '429': { description: 'Tried again later, as a 5xx is.' },
          '5XX': { description: 'Tried again later, on the schedule above.' },
          default: {
            description: 'Any other answer (a redirect, any 4xx but 429): the delivery fails at once and is not tried again.',
          },
        },
      },
    },
  };
}
