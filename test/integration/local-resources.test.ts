/**
 * The local stack's queues and table are serverless.yml's: what provisioning creates on the
 * emulators holds every property the template gives them for the local stage, and the names the
 * stack uses are the template's. (test/deploy/local-resources.test.ts checks that the template is
 * read as the Serverless Framework reads it.)
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DUE_TASKS_INDEX, OPEN_TASKS_INDEX, OWNER_TASKS_INDEX, WEBHOOK_DELIVERIES_INDEX } from '../../lib/aws/dynamodb-task-items.ts';
import { MAX_RECEIVE_COUNT, TASK_TABLE_INDEXES, createQueues, createTaskTable } from '../../local/provision.ts';
import { readServerlessYml, serverlessResources } from '../../local/serverless-resources.ts';
import { QUEUE_SETTINGS, RESOURCE_NAMES, STAGE } from '../../local/settings.ts';
import { useEmulators } from '../support/emulators.ts';

const VISIBILITY_OVERRIDE = 7;
const yml = await readServerlessYml();
const template = (env: Record<string, string> = {}) =>
  serverlessResources(yml, ['AWS::SQS::Queue', 'AWS::DynamoDB::Table'], { stage: STAGE, env });

describe('the local stack’s names and limits', () => {
  it('names the table and the queues as serverless.yml does for the local stage', () => {
    const resources = template();
    expect({
      table: resources.TaskTable?.Properties.TableName,
      queue: resources.TaskQueue?.Properties.QueueName,
      deadLetterQueue: resources.DeadLetterQueue?.Properties.QueueName,
      webhookQueue: resources.WebhookQueue?.Properties.QueueName,
      webhookDeadLetterQueue: resources.WebhookDeadLetterQueue?.Properties.QueueName,
    }).toEqual({
      table: RESOURCE_NAMES.table,
      queue: RESOURCE_NAMES.queue,
      deadLetterQueue: RESOURCE_NAMES.deadLetterQueue,
      webhookQueue: RESOURCE_NAMES.webhookQueue,
      webhookDeadLetterQueue: RESOURCE_NAMES.webhookDeadLetterQueue,
    });
  });

  it('takes the task queue’s visibility and redrive from the tasks’ limits, the visibility overridden by DOOZER_VISIBILITY_TIMEOUT_SECONDS', () => {
    expect(template().TaskQueue?.Properties.VisibilityTimeout).toBe(QUEUE_SETTINGS.visibilityTimeoutSeconds);
    expect(template({ DOOZER_VISIBILITY_TIMEOUT_SECONDS: '7' }).TaskQueue?.Properties.VisibilityTimeout).toBe('7');
    expect(MAX_RECEIVE_COUNT).toBe(QUEUE_SETTINGS.maxReceiveCount);
  });

  it('declares every index the task store queries', () => {
    expect(TASK_TABLE_INDEXES.map((index) => index.IndexName)).toEqual(
      expect.arrayContaining([OPEN_TASKS_INDEX, OWNER_TASKS_INDEX, DUE_TASKS_INDEX, WEBHOOK_DELIVERIES_INDEX]),
    );
  });
});

describe('createQueues and createTaskTable (fauxqs + dynalite)', () => {
  const emulators = useEmulators();

  it('gives every queue the visibility, retention and redrive serverless.yml gives it', async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const names = {
      queue: `tasks-${suffix}`,
      deadLetterQueue: `dead-letters-${suffix}`,
      webhookQueue: `webhooks-${suffix}`,
      webhookDeadLetterQueue: `webhook-dead-letters-${suffix}`,
    };
    await createQueues(emulators.sqs, names, VISIBILITY_OVERRIDE);
    const resources = template({ DOOZER_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_OVERRIDE) });
    const queues = { TaskQueue: names.queue, DeadLetterQueue: names.deadLetterQueue, WebhookQueue: names.webhookQueue, WebhookDeadLetterQueue: names.webhookDeadLetterQueue };
    const arns = new Map<string, string>();
    const attributes = new Map<string, Record<string, string>>();
    for (const [id, name] of Object.entries(queues)) {
      const { QueueUrl } = await emulators.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      const { Attributes = {} } = await emulators.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
      arns.set(id, Attributes.QueueArn!);
      attributes.set(id, Attributes);
    }
    const queueIds = Object.entries(resources).filter(([, resource]) => resource.Type === 'AWS::SQS::Queue').map(([id]) => id);
    expect(queueIds.sort()).toEqual(Object.keys(queues).sort());
    for (const id of queueIds) {
      const { QueueName: _name, RedrivePolicy, ...declared } = resources[id]!.Properties as Record<string, unknown>;
      const created = attributes.get(id)!;
      for (const [property, value] of Object.entries(declared)) expect(created[property], `${id}.${property}`).toBe(String(value));
      if (RedrivePolicy === undefined) {
        expect(created.RedrivePolicy, `${id}.RedrivePolicy`).toBeUndefined();
      } else {
        const { deadLetterTargetArn, maxReceiveCount } = RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string, string] }; maxReceiveCount: number };
        expect(JSON.parse(created.RedrivePolicy!), `${id}.RedrivePolicy`).toEqual({
          deadLetterTargetArn: arns.get(deadLetterTargetArn['Fn::GetAtt'][0]),
          maxReceiveCount,
        });
      }
    }
  });

  it('gives the table the keys, attribute definitions, billing and indexes serverless.yml gives it', async () => {
    const tableName = `table-${Math.random().toString(36).slice(2, 8)}`;
    await createTaskTable(emulators.dynamodb, tableName);
    const declared = template().TaskTable!.Properties as Record<string, any>;
    const { Table } = await emulators.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.KeySchema).toEqual(declared.KeySchema);
    expect(Table?.AttributeDefinitions).toEqual(expect.arrayContaining(declared.AttributeDefinitions));
    expect(Table?.AttributeDefinitions).toHaveLength(declared.AttributeDefinitions.length);
    expect(Table?.BillingModeSummary?.BillingMode).toBe(declared.BillingMode);
    expect(
      Table?.GlobalSecondaryIndexes?.map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection })),
    ).toEqual(expect.arrayContaining(declared.GlobalSecondaryIndexes));
    expect(Table?.GlobalSecondaryIndexes).toHaveLength(declared.GlobalSecondaryIndexes.length);
    // dynalite has no TTL: the stack's TtlReaper stands in, deleting by `expiresAt` (local/ttl-reaper.ts).
    expect(declared.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });
});
