import { createSsmClient } from '../lib/aws/clients.ts';
import { createSqsBatchHandler } from '../lib/aws/sqs-batch-handler.ts';
import { loadNotifierSettings, webhookSecretsReloader } from '../lib/aws/ssm-secrets.ts';
import { createLogger, withLambdaContext } from '../lib/dependencies.ts';
import { createWebhookNotifier } from '../lib/notifier-dependencies.ts';
import { decodeNotice } from '../lib/webhooks/delivery-schedule.ts';

const logger = createLogger();
// As the API: read once in the init phase (outside the local stage, the users from SSM).
const ssm = createSsmClient();
const config = await loadNotifierSettings(process.env, ssm);
// The users are read again now and then: a user given a webhook secret, or a rotated one, is taken up.
const notifier = createWebhookNotifier(config, logger, webhookSecretsReloader(config, ssm));

/**
 * Notifier queue -> completion webhooks. A body that names no task is dropped (logged); a store
 * failure fails its record, which comes back, and after the queue's maxReceiveCount goes to the
 * webhook dead-letter queue.
 */
export const handler = withLambdaContext(
  logger,
  createSqsBatchHandler(
    async (record) => {
      const taskId = decodeNotice(record.body);
      if (taskId === undefined) {
        logger.error('dropping a notifier message that names no task', { body: record.body.slice(0, 256) });
        return 'skipped';
      }
      return notifier.deliver(taskId);
    },
    { logger },
  ),
);
