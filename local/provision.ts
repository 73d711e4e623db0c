import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type TemplateResource, readServerlessYml, serverlessResources } from './serverless-resources.ts';
import { STAGE } from './settings.ts';
import { addIndexesInPlace, backfillListKeys, rebuildCopyOf, rebuildTaskTable, tableExists } from './task-table-upgrade.ts';

/**
 * The local stack's queues and task table, created as serverless.yml declares them for AWS: every
 * property comes from its `resources` (local/serverless-resources.ts reads them as the Framework
 * resolves them for the local stage), so the two cannot drift apart. What a local emulator has no
 * use for (point-in-time recovery, tags, encryption) is left out, by name.
 */

const SERVERLESS_YML = await readServerlessYml();
const QUEUE = 'AWS::SQS::Queue';
const TABLE = 'AWS::DynamoDB::Table';

/**
 * serverless.yml's queues and table for the local stage. Its one setting from the environment is the
 * task queue's visibility timeout (custom.visibilityOverride.local): the local stack hands
 * serverless-offline the same DOOZER_VISIBILITY_TIMEOUT_SECONDS; unset, it follows the tasks' limits.
 */
function localResources(visibilityTimeoutSeconds?: number): Record<string, TemplateResource> {
  const env = visibilityTimeoutSeconds === undefined ? {} : { DOOZER_VISIBILITY_TIMEOUT_SECONDS: String(visibilityTimeoutSeconds) };
  return serverlessResources(SERVERLESS_YML, [QUEUE, TABLE], { stage: STAGE, env });
}

function resourceOf(resources: Record<string, TemplateResource>, logicalId: string, type: string): TemplateResource {
  const resource = resources[logicalId];
  if (resource?.Type !== type) throw new Error(`serverless.yml has no ${type} ${logicalId}`);
  return resource;
}

/** The task table as serverless.yml declares it (TableName as there: the local stage's). */
function taskTableTemplate(): Readonly<Record<string, unknown>> {
  return resourceOf(localResources(), 'TaskTable', TABLE).Properties;
}

/** The logical id in serverless.yml of each queue that `QueueNames` names. */
const QUEUE_IDS = {
  queue: 'TaskQueue',
  deadLetterQueue: 'DeadLetterQueue',
  webhookQueue: 'WebhookQueue',
  webhookDeadLetterQueue: 'WebhookDeadLetterQueue',
} as const;

/** The task table's secondary indexes, as serverless.yml declares them. */
export const TASK_TABLE_INDEXES: readonly GlobalSecondaryIndex[] = taskTableTemplate().GlobalSecondaryIndexes as GlobalSecondaryIndex[];

/** The task queue's redrive: after this many receives a message moves to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = Number(
  (resourceOf(localResources(), QUEUE_IDS.queue, QUEUE).Properties.RedrivePolicy as { maxReceiveCount: unknown }).maxReceiveCount,
);

export interface Queues {
  readonly taskQueueUrl: string;
  readonly taskQueueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
  /** The notifier's queue and its dead-letter queue (webhooks). */
  readonly webhookQueueUrl: string;
  readonly webhookDeadLetterQueueUrl: string;
}

export interface QueueNames {
  readonly queue: string;
  readonly deadLetterQueue: string;
  /** By default `<queue>-webhooks` and `<queue>-webhook-dead-letters`. */
  readonly webhookQueue?: string;
  readonly webhookDeadLetterQueue?: string;
}

/** CreateQueue's attributes that an AWS::SQS::Queue's properties of the same name give. */
const QUEUE_ATTRIBUTES = new Set(['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'MaximumMessageSize', 'ReceiveMessageWaitTimeSeconds']);
/** A queue's properties that change nothing an emulator does. */
const QUEUE_PROPERTIES_LEFT_OUT = new Set(['Tags', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds', 'SqsManagedSseEnabled']);

/**
 * Creates every queue of serverless.yml, with its properties for the local stage: the visibility
 * timeout (`visibilityTimeoutSeconds` overrides the task queue's, as DOOZER_VISIBILITY_TIMEOUT_SECONDS
 * does), the retention, the redrive to its dead-letter queue. They are named `names` (tests name
 * their own); a dead-letter queue is created before the queue it takes from. CreateQueue is
 * idempotent.
 */
export async function createQueues(sqs: SQSClient, names: QueueNames, visibilityTimeoutSeconds?: number): Promise<Queues> {
  const resources = localResources(visibilityTimeoutSeconds);
  const nameOf: Record<string, string> = {
    [QUEUE_IDS.queue]: names.queue,
    [QUEUE_IDS.deadLetterQueue]: names.deadLetterQueue,
    [QUEUE_IDS.webhookQueue]: names.webhookQueue ?? `${names.queue}-webhooks`,
    [QUEUE_IDS.webhookDeadLetterQueue]: names.webhookDeadLetterQueue ?? `${names.queue}-webhook-dead-letters`,
  };
  const created = new Map<string, { url: string; arn: string }>();
  const pending = Object.entries(resources).filter(([, resource]) => resource.Type === QUEUE);
  while (pending.length > 0) {
    const ready = pending.findIndex(([, { Properties }]) => {
      const target = deadLetterTargetOf(Properties);
      return target === undefined || created.has(target);
    });
    if (ready === -1) throw new Error(`serverless.yml: the queues ${pending.map(([id]) => id).join(', ')} redrive to no queue it declares`);
    const [[id, { Properties }]] = pending.splice(ready, 1) as [[string, TemplateResource]];
    const name = nameOf[id] ?? (Properties.QueueName as string);
    created.set(id, await createQueue(sqs, name, Properties, (target) => created.get(target)!.arn));
  }
  const queue = (id: string) => {
    const found = created.get(id);
    if (!found) throw new Error(`serverless.yml declares no queue ${id}`);
    return found;
  };
  return {
    taskQueueUrl: queue(QUEUE_IDS.queue).url,
    taskQueueArn: queue(QUEUE_IDS.queue).arn,
    deadLetterQueueUrl: queue(QUEUE_IDS.deadLetterQueue).url,
    deadLetterQueueArn: queue(QUEUE_IDS.deadLetterQueue).arn,
    webhookQueueUrl: queue(QUEUE_IDS.webhookQueue).url,
    webhookDeadLetterQueueUrl: queue(QUEUE_IDS.webhookDeadLetterQueue).url,
  };
}

/** The logical id a queue's RedrivePolicy names (`!GetAtt <id>.Arn`), if it has one. */
function deadLetterTargetOf(properties: Readonly<Record<string, unknown>>): string | undefined {
  const redrive = properties.RedrivePolicy as { deadLetterTargetArn?: { 'Fn::GetAtt'?: [string, string] } } | undefined;
  if (redrive === undefined) return undefined;
  const target = redrive.deadLetterTargetArn?.['Fn::GetAtt'];
  if (target?.[1] !== 'Arn') throw new Error('serverless.yml: a RedrivePolicy names its dead-letter queue other than by !GetAtt <queue>.Arn');
  return target[0];
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  properties: Readonly<Record<string, unknown>>,
  arnOf: (logicalId: string) => string,
): Promise<{ url: string; arn: string }> {
  const attributes: Record<string, string> = {};
  for (const [property, value] of Object.entries(properties)) {
    if (property === 'QueueName' || QUEUE_PROPERTIES_LEFT_OUT.has(property)) continue;
    if (property === 'RedrivePolicy') {
      const { maxReceiveCount } = value as { maxReceiveCount: unknown };
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arnOf(deadLetterTargetOf(properties)!), maxReceiveCount });
    } else if (QUEUE_ATTRIBUTES.has(property)) {
      attributes[property] = String(value);
    } else {
      throw new Error(`serverless.yml gives the queue ${name} a ${property}, which local/provision.ts does not know: add it there`);
    }
  }
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: QueueUrl!, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

/** A table's properties that CreateTable takes as they are. */
const TABLE_INPUTS = new Set(['BillingMode', 'AttributeDefinitions', 'KeySchema', 'GlobalSecondaryIndexes']);
/** A table's properties that change nothing an emulator does (TTL is set apart: enableTimeToLive). */
const TABLE_PROPERTIES_LEFT_OUT = new Set([
  'TableName',
  'TimeToLiveSpecification',
  'PointInTimeRecoverySpecification',
  'SSESpecification',
  'DeletionProtectionEnabled',
  'ContributorInsightsSpecification',
  'Tags',
]);

/** CreateTable's input for the task table, as serverless.yml declares it, named `tableName`. */
function taskTableDefinition(tableName: string): CreateTableCommandInput {
  const definition: Record<string, unknown> = { TableName: tableName };
  for (const [property, value] of Object.entries(taskTableTemplate())) {
    if (TABLE_INPUTS.has(property)) definition[property] = value;
    else if (!TABLE_PROPERTIES_LEFT_OUT.has(property)) {
      throw new Error(`serverless.yml gives the task table a ${property}, which local/provision.ts does not know: add it there`);
    }
  }
  return definition as unknown as CreateTableCommandInput;
}

/**
 * Creates the task table as serverless.yml declares it (keys, attribute definitions, billing,
 * TASK_TABLE_INDEXES, TTL) unless it exists, and resolves once it is ACTIVE: a table still CREATING
 * answers every read with ResourceNotFound (dynalite writes its status to disk when it keeps its data
 * there, which is not instant either).
 *
 * A table kept from an earlier release (the data folder outlives a restart) gets the indexes it
 * lacks, keeping its items: CreateTable does not add them to a table that exists. UpdateTable adds
 * one at a time where the service can (DynamoDB, LocalStack); dynalite cannot (it refuses the
 * request, or accepts it and adds nothing), so there the table is rebuilt (local/task-table-upgrade.ts).
 * Then tasks recorded before the owner index get its sort key (backfillListKeys).
 */
export async function createTaskTable(
  dynamodb: DynamoDBClient,
  tableName: string,
  options: { readonly log?: (line: string) => void } = {},
): Promise<void> {
  const log = options.log ?? (() => {});
  const definition = taskTableDefinition(tableName);
  if (await tableExists(dynamodb, rebuildCopyOf(tableName))) {
    log(`finishing the rebuild of the table ${tableName} that was interrupted`);
    await rebuildTaskTable(dynamodb, definition, log);
  } else {
    try {
      await dynamodb.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
    const missing = await missingIndexes(dynamodb, tableName);
    if (missing.length > 0 && !(await addIndexesInPlace(dynamodb, definition, missing, log))) {
      await rebuildTaskTable(dynamodb, definition, log);
    }
  }
  await enableTimeToLive(dynamodb, tableName);
  await backfillListKeys(dynamodb, tableName);
}

async function missingIndexes(dynamodb: DynamoDBClient, tableName: string): Promise<GlobalSecondaryIndex[]> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName));
  return TASK_TABLE_INDEXES.filter((index) => !present.has(index.IndexName));
}

/**
 * Turns on the table's TTL as serverless.yml does, where the service has TTL (LocalStack). dynalite
 * has none (it answers UnknownOperationException): there the local stack's TtlReaper deletes the
 * expired items instead (local/ttl-reaper.ts).
 */
async function enableTimeToLive(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const ttl = taskTableTemplate().TimeToLiveSpecification as { AttributeName: string; Enabled: boolean } | undefined;
  if (!ttl?.Enabled) return;
  try {
    const { TimeToLiveDescription } = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    if (TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED' || TimeToLiveDescription?.TimeToLiveStatus === 'ENABLING') return;
    await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
  } catch (error) {
    if ((error as { name?: unknown }).name !== 'UnknownOperationException') throw error;
  }
}
