import { CreateTableCommand, type DynamoDBClient, ResourceInUseException, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { OPEN_TASKS_INDEX } from '../lib/aws/dynamodb-task-store.ts';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QUEUE_SETTINGS } from './settings.ts';

/** The queue's redrive: after this many receives a message moves to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = QUEUE_SETTINGS.maxReceiveCount;

/** Longer than a task lives (7 days), so a queued message outlasts any worker outage its task survives. */
const FOURTEEN_DAYS = '1209600';

export interface Queues {
  readonly taskQueueUrl: string;
  readonly taskQueueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
}

/**
 * Creates the task queue and its dead-letter queue as serverless.yml declares them for AWS: redrive
 * after MAX_RECEIVE_COUNT receives, 14 days' retention. CreateQueue is idempotent.
 */
export async function createQueues(
  sqs: SQSClient,
  names: { queue: string; deadLetterQueue: string },
  visibilityTimeoutSeconds: number,
): Promise<Queues> {
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: names.deadLetterQueue, Attributes: { MessageRetentionPeriod: FOURTEEN_DAYS } }),
  );
  const deadLetterQueueUrl = dlq.QueueUrl!;
  const deadLetterQueueArn = await queueArn(sqs, deadLetterQueueUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: FOURTEEN_DAYS,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterQueueArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
      },
    }),
  );
  const taskQueueUrl = queue.QueueUrl!;
  return { taskQueueUrl, taskQueueArn: await queueArn(sqs, taskQueueUrl), deadLetterQueueUrl, deadLetterQueueArn };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes!.QueueArn!;
}

/**
 * Creates the task table (keyed by id, on-demand, with the open-tasks index) unless it exists, and
 * resolves once it is ACTIVE: a table still CREATING answers every read with ResourceNotFound (dynalite
 * writes its status to disk when it keeps its data there, which is not instant either).
 */
export async function createTaskTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'id', AttributeType: 'S' },
          { AttributeName: 'openShard', AttributeType: 'S' },
          { AttributeName: 'createdAt', AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: OPEN_TASKS_INDEX,
            KeySchema: [
              { AttributeName: 'openShard', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
}
