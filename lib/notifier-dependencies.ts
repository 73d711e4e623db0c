import { createDynamoDbDocumentClient, createSqsClient } from './aws/clients.ts';
import { DynamoDbWebhookDeliveries } from './aws/dynamodb-webhook-deliveries.ts';
import { SqsWebhookQueue } from './aws/sqs-webhook-queues.ts';
import type { NotifierConfig } from './config.ts';
import { createLogger } from './dependencies.ts';
import { scopedLogger } from './logger.ts';
import { HttpWebhookSender } from './webhooks/http-sender.ts';
import { WebhookNotifier } from './webhooks/webhook-notifier.ts';
import { RefreshingWebhookSecrets } from './webhooks/webhook-secrets.ts';

/**
 * The notifier's composition, apart from lib/dependencies.ts: the signing library it brings is a
 * CommonJS package, which esbuild cannot drop from a bundle that imports it even unused, and the
 * other functions have no use for it.
 */

/** The notifier: completion webhooks from its queue, signed with each owner's secret, failures to its dead-letter queue. */
export function createWebhookNotifier(
  config: NotifierConfig,
  base = createLogger(),
  reload?: () => Promise<ReadonlyMap<string, string>>,
): WebhookNotifier {
  const logger = scopedLogger(base);
  const sqs = createSqsClient(config.aws);
  return new WebhookNotifier({
    store: new DynamoDbWebhookDeliveries({ client: createDynamoDbDocumentClient(config.aws), tableName: config.aws.tableName }),
    queue: new SqsWebhookQueue({ client: sqs, queueUrl: config.queueUrl }),
    failed: new SqsWebhookQueue({ client: sqs, queueUrl: config.deadLetterQueueUrl }),
    sender: new HttpWebhookSender({ policy: { allowLoopback: config.allowLoopback } }),
    secrets: new RefreshingWebhookSecrets({ initial: config.secrets, reload, logger }),
    retrySchedule: config.retrySchedule,
    logger,
  });
}
