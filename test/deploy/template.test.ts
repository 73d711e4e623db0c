/**
 * What `serverless package` hands to CloudFormation, checked as a reviewer would before a deploy:
 * the generated template (not serverless.yml), against the CloudFormation resource specification,
 * and the function bundles beside it. Offline, no credentials: the same command CI runs.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../lib/auth/passwords.ts';
import { MAX_WAIT_SECONDS } from '../../lib/tasks/wait-policy.ts';
import { startTestEmulators } from '../support/emulators.ts';
import {
  type SpecDatabase,
  type Template,
  loadCloudFormationSpec,
  validateAgainstSpec,
} from './support/cloudformation-spec.ts';
import { startFakeAws } from './support/fake-aws.ts';
import { grantsOf, logStreamsOf, policyStatements, wildcardsIn } from './support/iam.ts';
import { type PackagedService, packageService, serverlessEnv } from './support/serverless.ts';
import { type ZipFileEntry, openZip } from './support/zip.ts';
import { catalog } from '../support/catalog.ts';
import { TASK_TABLE_INDEXES } from '../../local/provision.ts';

/** A secret left in the deployer's shell: it must never reach a template outside the local stage. */
const SHELL_SECRET = 'a-secret-in-the-deployers-shell-that-must-not-leak';
const SHELL_USERS = '[{"username":"shell-user","passwordHash":"not-in-the-template"}]';
const ALARM_EMAIL = 'oncall@example.com';

/**
 * The API bundle's budget, in bytes of minified .mjs: size is cold start on Lambda. It measured
 * 617,653 on 2026-11-28, SSM client and OpenAPI routes included, once esbuild took the packages' ES
 * module builds (serverless.yml, mainFields; 966,003 before), and grew with the task lifecycle and
 * then with the limits and the callback address check (ipaddr.js, 13 KB): docs/deploying.md's table (Bundle sizes) says
 * what it is now. About 6% of headroom: room to grow a little, while a slip like the CommonJS SDK
 * builds, the full zod build (1,136 KB before commit 202ceaf) or the webhook signing library (a
 * CommonJS package, the notifier's alone) fails here.
 */
const API_BUNDLE_BUDGET_BYTES = 750_000;
/**
 * The web bundle carries its files gzipped (Swagger UI's script is most of it): a Lambda response
 * holds at most 6 MB, and the bundle is only loaded, never parsed as code beyond Hono and the server.
 */
const WEB_BUNDLE_BUDGET_BYTES = 1_000_000;

let prod: PackagedService;
let dev: PackagedService;
let spec: SpecDatabase;

beforeAll(async () => {
  [prod, dev, spec] = await Promise.all([
    packageService('prod', serverlessEnv({ DOOZER_JWT_SECRET: SHELL_SECRET, DOOZER_USERS: SHELL_USERS })),
    packageService(
      'dev',
      serverlessEnv({ DOOZER_ALARM_EMAIL: ALARM_EMAIL, DOOZER_JWT_SECRET_PARAMETER: '/team-a/doozer-dev/jwt-secret' }),
    ),
    loadCloudFormationSpec(),
  ]);
}, 240_000);

afterAll(async () => {
  await Promise.all([prod?.cleanup(), dev?.cleanup()]);
});

type Properties = Record<string, any>;
const resource = (template: Template, logicalId: string): Properties => {
  const found = template.Resources[logicalId];
  if (!found) throw new Error(`the template has no resource ${logicalId}`);
  return found.Properties ?? {};
};
/** The resources of one type, as `[logical id, properties]`. */
const ofType = (template: Template, type: string): [string, Properties][] =>
  Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
const functions = (template: Template) => ofType(template, 'AWS::Lambda::Function');
const roleOf = (fn: Properties): string => fn.Role['Fn::GetAtt'][0];
/** Serverless names each function's log group `/aws/lambda/<function name>`. */
const logGroupOf = (template: Template, fn: Properties): string => {
  const [id] = ofType(template, 'AWS::Logs::LogGroup').find(
    ([, group]) => group.LogGroupName === `/aws/lambda/${fn.FunctionName}`,
  ) ?? [];
  if (!id) throw new Error(`no log group for ${fn.FunctionName}`);
  return id;
};

describe('the prod template', () => {
  it('gives each queue a visibility timeout of at least 6x the timeout of the function it feeds', () => {
    // AWS: "set the source queue's visibility timeout to at least six times the timeout that you
    // configure on your function", or a message reappears while its first delivery still runs.
    const pairs = [
      ['TaskQueue', 'WorkerLambdaFunction'],
      ['DeadLetterQueue', 'DeadLetterLambdaFunction'],
    ] as const;
    for (const [queue, fn] of pairs) {
      const timeout = resource(prod.template, fn).Timeout;
      expect(resource(prod.template, queue).VisibilityTimeout, `${queue} feeds ${fn}`).toBeGreaterThanOrEqual(6 * timeout);
    }
  });

  it('feeds each queue to its function in batches that report failed records alone', () => {
    const mappings = ofType(prod.template, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m);
    expect(mappings.map((m) => [m.EventSourceArn, m.FunctionName['Fn::GetAtt'][0], m.FunctionResponseTypes])).toEqual(
      expect.arrayContaining([
        [{ 'Fn::GetAtt': ['TaskQueue', 'Arn'] }, 'WorkerLambdaFunction', ['ReportBatchItemFailures']],
        [{ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] }, 'DeadLetterLambdaFunction', ['ReportBatchItemFailures']],
      ]),
    );
  });

  it('moves a task message to the dead-letter queue after the receives the tasks\' retries and outages call for', () => {
    expect(resource(prod.template, 'TaskQueue').RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] },
      maxReceiveCount: catalog.queueSettings().maxReceiveCount,
    });
  });

  it('takes the worker timeout, visibility and redrive from the tasks\' limits, and tells the worker the visibility', () => {
    const settings = catalog.queueSettings();
    const worker = resource(prod.template, 'WorkerLambdaFunction');
    expect(worker.Timeout).toBe(settings.workerTimeoutSeconds);
    expect(worker.Timeout).toBe(Math.max(...catalog.definitions.map((task) => task.timeoutSeconds)) + 10);
    expect(resource(prod.template, 'TaskQueue').VisibilityTimeout).toBe(settings.visibilityTimeoutSeconds);
    expect(resource(prod.template, 'TaskQueue').RedrivePolicy.maxReceiveCount).toBe(settings.maxReceiveCount);
    expect(worker.Environment.Variables.DOOZER_VISIBILITY_TIMEOUT_SECONDS).toBe(String(settings.visibilityTimeoutSeconds));
    const mapping = ofType(prod.template, 'AWS::Lambda::EventSourceMapping')
      .map(([, m]) => m)
      .find((m) => m.FunctionName['Fn::GetAtt'][0] === 'WorkerLambdaFunction');
    expect(mapping?.BatchSize).toBe(settings.batchSize);
    expect(resource(prod.template, 'SweeperLambdaFunction').Environment.Variables.DOOZER_SWEEP_AFTER_SECONDS).toBe(
      String(settings.sweepAfterSeconds),
    );
  });

  it('bills the table per request, expires items on expiresAt and keeps point-in-time recovery', () => {
    const table = resource(prod.template, 'TaskTable');
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('packages the indexes serverless.yml declares (the local table is made from them too), each key attribute defined as a string', () => {
    // The local stack reads the same definition (local/serverless-resources.ts); what the packaging
    // step makes of it is what AWS gets. test/integration/local-resources.test.ts checks the store's queries against it.
    const table = resource(prod.template, 'TaskTable');
    expect(table.GlobalSecondaryIndexes).toEqual(TASK_TABLE_INDEXES);
    const keys = ['id', ...TASK_TABLE_INDEXES.flatMap((index) => index.KeySchema!.map((key) => key.AttributeName!))];
    // CloudFormation refuses an attribute definition that no key uses, so there are exactly these.
    expect(table.AttributeDefinitions).toEqual([...new Set(keys)].map((name) => ({ AttributeName: name, AttributeType: 'S' })));
  });

  it('gives each function a role of its own, which only Lambda may assume', () => {
    const roles = functions(prod.template).map(([, fn]) => roleOf(fn));
    expect(roles).toHaveLength(6);
    expect(new Set(roles).size).toBe(roles.length);
    for (const role of roles) {
      expect(prod.template.Resources[role]!.Type).toBe('AWS::IAM::Role');
      expect(resource(prod.template, role).AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
      expect(resource(prod.template, role).ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets the API send to the task queue and read its attributes (readiness), use task items, list an owner’s tasks and read its two secrets, and nothing else', () => {
    // Update marks a task FAILURE when it could not be queued, or cancels it; BatchWrite records a
    // batch of tasks; Delete frees an Idempotency-Key whose task could not be recorded or queued;
    // Query reads only the owner index, never the table (serverless.yml, ApiRole). SendMessage
    // covers SendMessageBatch.
    const parameter = (name: string) => `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/doozer/prod/${name}`;
    expect(grantsOf(prod.template, 'ApiRole')).toEqual(
      [
        `logs:CreateLogStream on ${logStreamsOf('ApiLogGroup')}`,
        `logs:PutLogEvents on ${logStreamsOf('ApiLogGroup')}`,
        'sqs:SendMessage on ${TaskQueue.Arn}',
        'sqs:GetQueueAttributes on ${TaskQueue.Arn}',
        // A cancelled task with a callbackUrl, to the notifier.
        'sqs:SendMessage on ${WebhookQueue.Arn}',
        // The open-task slots of tasks that ended, cleared when a user's slots are full.
        'dynamodb:BatchGetItem on ${TaskTable.Arn}',
        'dynamodb:PutItem on ${TaskTable.Arn}',
        'dynamodb:BatchWriteItem on ${TaskTable.Arn}',
        'dynamodb:GetItem on ${TaskTable.Arn}',
        'dynamodb:UpdateItem on ${TaskTable.Arn}',
        'dynamodb:DeleteItem on ${TaskTable.Arn}',
        'dynamodb:Query on ${TaskTable.Arn}/index/owner-tasks',
        `ssm:GetParameters on ${parameter('jwt-secret')}`,
        `ssm:GetParameters on ${parameter('users')}`,
        `ssm:GetParameter on ${parameter('jwt-secret')}`,
        `ssm:GetParameter on ${parameter('users')}`,
      ].sort(),
    );
  });

  it('lets the worker receive, delete and hide messages of its queue, update tasks and read one to say why a write was refused, and nothing else', () => {
    expect(grantsOf(prod.template, 'WorkerRole')).toEqual(
      [
        `logs:CreateLogStream on ${logStreamsOf('WorkerLogGroup')}`,
        `logs:PutLogEvents on ${logStreamsOf('WorkerLogGroup')}`,
        // The event source mapping reads the queue with the function's role.
        'sqs:ReceiveMessage on ${TaskQueue.Arn}',
        'sqs:DeleteMessage on ${TaskQueue.Arn}',
        'sqs:GetQueueAttributes on ${TaskQueue.Arn}',
        // The heartbeat of a long task, and when a task that threw comes back.
        'sqs:ChangeMessageVisibility on ${TaskQueue.Arn}',
        // A task that ends with a callbackUrl, to the notifier.
        'sqs:SendMessage on ${WebhookQueue.Arn}',
        'dynamodb:GetItem on ${TaskTable.Arn}',
        'dynamodb:UpdateItem on ${TaskTable.Arn}',
      ].sort(),
    );
  });

  it('lets the dead-letter function drain its queue and update tasks, and the sweeper find and queue open and due tasks', () => {
    expect(grantsOf(prod.template, 'DeadLetterRole')).toEqual(
      [
        `logs:CreateLogStream on ${logStreamsOf('DeadLetterLogGroup')}`,
        `logs:PutLogEvents on ${logStreamsOf('DeadLetterLogGroup')}`,
        'sqs:ReceiveMessage on ${DeadLetterQueue.Arn}',
        'sqs:DeleteMessage on ${DeadLetterQueue.Arn}',
        'sqs:GetQueueAttributes on ${DeadLetterQueue.Arn}',
        'sqs:SendMessage on ${WebhookQueue.Arn}',
        'dynamodb:GetItem on ${TaskTable.Arn}',
        'dynamodb:UpdateItem on ${TaskTable.Arn}',
      ].sort(),
    );
    expect(grantsOf(prod.template, 'SweeperRole')).toEqual(
      [
        `logs:CreateLogStream on ${logStreamsOf('SweeperLogGroup')}`,
        `logs:PutLogEvents on ${logStreamsOf('SweeperLogGroup')}`,
        'sqs:SendMessage on ${TaskQueue.Arn}',
        'sqs:SendMessage on ${WebhookQueue.Arn}',
        'dynamodb:Query on ${TaskTable.Arn}/index/open-tasks',
        'dynamodb:Query on ${TaskTable.Arn}/index/due-tasks',
        'dynamodb:Query on ${TaskTable.Arn}/index/webhook-deliveries',
        'dynamodb:GetItem on ${TaskTable.Arn}',
        'dynamodb:UpdateItem on ${TaskTable.Arn}',
      ].sort(),
    );
  });

  it('lets the notifier drain and feed its own queue, put deliveries aside, update tasks and read the users for their secrets, and nothing else', () => {
    const users = 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/doozer/prod/users';
    expect(grantsOf(prod.template, 'NotifierRole')).toEqual(
      [
        `logs:CreateLogStream on ${logStreamsOf('NotifierLogGroup')}`,
        `logs:PutLogEvents on ${logStreamsOf('NotifierLogGroup')}`,
        'sqs:ReceiveMessage on ${WebhookQueue.Arn}',
        'sqs:DeleteMessage on ${WebhookQueue.Arn}',
        'sqs:GetQueueAttributes on ${WebhookQueue.Arn}',
        // The next attempt of a delivery, delayed, to its own queue.
        'sqs:SendMessage on ${WebhookQueue.Arn}',
        'sqs:SendMessage on ${WebhookDeadLetterQueue.Arn}',
        'dynamodb:GetItem on ${TaskTable.Arn}',
        'dynamodb:UpdateItem on ${TaskTable.Arn}',
        `ssm:GetParameters on ${users}`,
        `ssm:GetParameter on ${users}`,
      ].sort(),
    );
    // Its queue is redriven to the webhook dead-letter queue, which an alarm watches.
    expect(resource(prod.template, 'WebhookQueue').RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['WebhookDeadLetterQueue', 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(resource(prod.template, 'WebhookDeadLetterAlarm')).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['WebhookDeadLetterQueue', 'QueueName'] } }],
      Threshold: 0,
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
  });

  it('lets the web function write its own logs and nothing else: it serves files it carries', () => {
    expect(grantsOf(prod.template, 'WebRole')).toEqual(
      [`logs:CreateLogStream on ${logStreamsOf('WebLogGroup')}`, `logs:PutLogEvents on ${logStreamsOf('WebLogGroup')}`].sort(),
    );
    expect(resource(prod.template, 'WebLambdaFunction').Environment?.Variables ?? {}).not.toHaveProperty('DOOZER_USERS_PARAMETER');
  });

  it('throttles the whole API stage in front of the per-user limits', () => {
    expect(resource(prod.template, 'HttpApiStage').DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 });
  });

  it('allows no wildcard anywhere but in the log streams of a function’s own log group', () => {
    // Lambda names each log stream after the date, version and instance, so no policy can name them
    // in advance; `log-group:<name>:*` is the form AWS documents for logs:CreateLogStream and
    // logs:PutLogEvents ("Overview of managing access permissions to your CloudWatch Logs
    // resources", CloudWatch Logs User Guide). Any other `*` in an Allow statement fails.
    const ownLogStreams = new Map(
      functions(prod.template).map(([, fn]) => [roleOf(fn), logStreamsOf(logGroupOf(prod.template, fn))]),
    );
    const offending = policyStatements(prod.template)
      .filter(({ statement }) => statement.Effect === 'Allow')
      .flatMap(({ path, logicalId, statement }) => {
        const problems: string[] = [];
        if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
          problems.push(`${path}: NotAction/NotResource in an Allow statement grants everything else`);
        }
        const logActionsOnly = [statement.Action].flat().every((a) => a === 'logs:CreateLogStream' || a === 'logs:PutLogEvents');
        for (const wildcard of wildcardsIn(prod.template, statement)) {
          if (!(logActionsOnly && wildcard === ownLogStreams.get(logicalId))) problems.push(`${path}: ${wildcard}`);
        }
        return problems;
      });
    expect(offending).toEqual([]);
    // The trust policies have no Resource; each role has its log statement and nothing wider.
    expect([...ownLogStreams.keys()].sort()).toEqual(['ApiRole', 'DeadLetterRole', 'NotifierRole', 'SweeperRole', 'WebRole', 'WorkerRole']);
  });

  it('uses a wildcard in a Deny only to refuse the deployment bucket to requests without TLS', () => {
    // Serverless's own bucket policy: a wildcard in a Deny narrows what anyone may do, never widens it.
    const denies = policyStatements(prod.template).filter(({ statement }) => statement.Effect === 'Deny');
    expect(denies.map(({ logicalId, statement }) => [logicalId, statement.Condition])).toEqual([
      ['ServerlessDeploymentBucketPolicy', { Bool: { 'aws:SecureTransport': false } }],
    ]);
  });

  it('gives the API function time for the whole wait plus margin, within API Gateway’s 29 s', () => {
    const api = resource(prod.template, 'ApiLambdaFunction');
    // The wait, then a few store reads and the response; a cold start (~1 s) comes on top.
    expect(api.Timeout).toBeGreaterThanOrEqual(MAX_WAIT_SECONDS + 3);
    // HTTP API's integration timeout is at most 30 s; the function must end first, with room to spare.
    expect(api.Timeout).toBeLessThanOrEqual(29);
    const integration = resource(prod.template, 'HttpApiIntegrationApi');
    expect(integration.TimeoutInMillis).toBeLessThanOrEqual(30_000);
    expect(integration.TimeoutInMillis).toBeGreaterThan(api.Timeout * 1000);
  });

  it('routes the page, the docs and their files to the web function, and every API route to the API function', () => {
    const routes = ofType(prod.template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r);
    const targetOf = (route: Properties) => JSON.stringify(route.Target).match(/HttpApiIntegration(\w+)/)?.[1];
    const web = routes.filter((route) => targetOf(route) === 'Web').map((route) => route.RouteKey);
    // Every method: HEAD reaches only a route that takes it; others get the web function's 405.
    expect(web.sort()).toEqual(['ANY /', 'ANY /docs', 'ANY /docs/{path+}', 'ANY /ui/{file}']);
    expect(routes.filter((route) => targetOf(route) === 'Api').map((route) => route.RouteKey).sort()).toEqual(
      [
        '$default',
        'GET /health',
        'GET /ready',
        'GET /openapi.json',
        'GET /task-types',
        'GET /tasks',
        'GET /tasks/{id}',
        'POST /auth/token',
        'POST /tasks',
        'POST /tasks/batch',
        'POST /tasks/{id}/cancel',
      ].sort(),
    );
  });

  it('hands the API the names of its SSM parameters and never a secret', () => {
    const env = resource(prod.template, 'ApiLambdaFunction').Environment.Variables;
    expect(env).toMatchObject({
      DOOZER_STAGE: 'prod',
      DOOZER_JWT_SECRET_PARAMETER: '/doozer/prod/jwt-secret',
      DOOZER_USERS_PARAMETER: '/doozer/prod/users',
    });
    // Settings that are no secret come from the deployer's environment; empty means the default.
    expect(env).toMatchObject({ DOOZER_JWT_TTL_SECONDS: '', DOOZER_TASK_TTL_DAYS: '' });
    expect(env).not.toHaveProperty('DOOZER_JWT_SECRET');
    expect(env).not.toHaveProperty('DOOZER_USERS');
    const everything = JSON.stringify(prod.template);
    expect(everything).not.toContain(SHELL_SECRET);
    expect(everything).not.toContain('shell-user');
  });

  it('gives no secret and no parameter name to the functions that do not serve the API', () => {
    for (const id of ['WorkerLambdaFunction', 'DeadLetterLambdaFunction', 'SweeperLambdaFunction']) {
      expect(Object.keys(resource(prod.template, id).Environment.Variables).filter((k) => /JWT|USERS/.test(k))).toEqual([]);
    }
  });

  it('raises an alarm when dead letters wait in their queue for 5 minutes', () => {
    expect(resource(prod.template, 'DeadLetterQueueAlarm')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
      OKActions: [{ Ref: 'AlarmTopic' }],
    });
  });

  it('raises an alarm on any worker invocation that errors', () => {
    expect(resource(prod.template, 'WorkerErrorsAlarm')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'WorkerLambdaFunction' } }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
  });

  it('subscribes no email to the alarms unless DOOZER_ALARM_EMAIL is set', () => {
    expect(prod.template.Resources.AlarmEmailSubscription!.Condition).toBe('HasAlarmEmail');
    expect(prod.template.Conditions!.HasAlarmEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    expect(dev.template.Conditions!.HasAlarmEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [ALARM_EMAIL, ''] }] });
    expect(resource(dev.template, 'AlarmEmailSubscription')).toMatchObject({ Protocol: 'email', Endpoint: ALARM_EMAIL });
  });
});

describe('the dev template', () => {
  it('turns point-in-time recovery off', () => {
    expect(resource(dev.template, 'TaskTable').PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: false });
  });

  it('takes another parameter name from the deploy environment, in the function and in its role alike', () => {
    expect(resource(dev.template, 'ApiLambdaFunction').Environment.Variables).toMatchObject({
      DOOZER_JWT_SECRET_PARAMETER: '/team-a/doozer-dev/jwt-secret',
      DOOZER_USERS_PARAMETER: '/doozer/dev/users',
    });
    expect(grantsOf(dev.template, 'ApiRole').filter((grant) => grant.startsWith('ssm:GetParameter '))).toEqual([
      'ssm:GetParameter on arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/doozer/dev/users',
      'ssm:GetParameter on arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/team-a/doozer-dev/jwt-secret',
    ]);
  });
});

describe('the CloudFormation resource specification', () => {
  it('knows every resource type, property and attribute the prod and dev templates use', () => {
    expect(validateAgainstSpec(prod.template, spec)).toEqual([]);
    expect(validateAgainstSpec(dev.template, spec)).toEqual([]);
  });

  it('catches a misspelt property, at the top of a resource and deep inside one', () => {
    const broken = structuredClone(prod.template) as { Resources: Record<string, { Properties: Properties }> };
    const queue = broken.Resources.TaskQueue!.Properties;
    queue.VisiblityTimeout = queue.VisibilityTimeout;
    delete queue.VisibilityTimeout;
    broken.Resources.TaskTable!.Properties.TimeToLiveSpecification = { AtributeName: 'expiresAt', Enabled: true };
    const problems = validateAgainstSpec(broken as Template, spec);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^TaskQueue\.VisiblityTimeout: no such property/),
        expect.stringMatching(/^TaskTable\.TimeToLiveSpecification\.AtributeName: no such property/),
      ]),
    );
    expect(problems).toHaveLength(2);
  });

  it('catches an unknown resource type, a missing required property and an attribute that does not exist', () => {
    const broken = structuredClone(prod.template) as { Resources: Record<string, any> };
    broken.Resources.Extra = { Type: 'AWS::SQS::Queu', Properties: {} };
    delete broken.Resources.ApiRole.Properties.AssumeRolePolicyDocument;
    broken.Resources.WorkerErrorsAlarm.Properties.Dimensions[0].Value = { 'Fn::GetAtt': ['WorkerLambdaFunction', 'Name'] };
    expect(validateAgainstSpec(broken as Template, spec).sort()).toEqual([
      'ApiRole.AssumeRolePolicyDocument: required, but missing',
      'Extra: unknown resource type AWS::SQS::Queu',
      'WorkerErrorsAlarm.Dimensions[0].Value: AWS::Lambda::Function has no attribute Name (Fn::GetAtt WorkerLambdaFunction.Name)',
    ]);
  });
});

describe('the function bundles', () => {
  interface Bundle {
    readonly fn: string;
    readonly zipBytes: number;
    readonly code: ZipFileEntry;
    readonly map: ZipFileEntry | undefined;
    readonly text: string;
    readonly mapText: string | undefined;
    readonly sources: string[];
    /** Every file in the zip, sorted. */
    readonly entries: string[];
  }
  const bundles: Bundle[] = [];

  beforeAll(async () => {
    for (const [, fn] of functions(prod.template)) {
      const zipName = String(fn.Code.S3Key).split('/').at(-1)!;
      const zipPath = join(prod.dir, zipName);
      const zip = await openZip(zipPath);
      try {
        const code = zip.entries.find((entry) => entry.name.endsWith('.mjs'))!;
        const map = zip.entries.find((entry) => entry.name === `${code.name}.map`);
        const mapText = map ? await map.read() : undefined;
        const sources = mapText ? (JSON.parse(mapText) as { sources: string[] }).sources : [];
        const zipBytes = (await stat(zipPath)).size;
        const entries = zip.entries.map((entry) => entry.name).sort();
        bundles.push({ fn: zipName.replace(/\.zip$/, ''), zipBytes, code, map, text: await code.read(), mapText, sources, entries });
      } finally {
        zip.close();
      }
    }
    console.info(
      'Function bundles (serverless package --stage prod):\n' +
        bundles.map((b) => `  ${b.fn.padEnd(10)} ${b.code.name.padEnd(26)} ${b.code.size} bytes minified, zip ${b.zipBytes} bytes`).join('\n'),
    );
  });

  it('packages one bundle per function, each zip holding its own handler and source map and nothing else', () => {
    expect(bundles.map((b) => b.fn).sort()).toEqual(['api', 'deadLetter', 'notifier', 'sweeper', 'web', 'worker']);
    for (const bundle of bundles) expect(bundle.entries, bundle.fn).toEqual([bundle.code.name, `${bundle.code.name}.map`].sort());
  });

  it('builds the bench’s stack in a folder of its own, so its floor never lands in the product’s zips', async () => {
    // serverless-esbuild zips every file of its build folder into each function: a bench build
    // left in the product's `.esbuild` would ship bench/floor-handler.mjs in every function.
    // @ts-expect-error: plain JavaScript for the framework to load, with no declarations.
    const bench = (await import('../../serverless.bench.mjs')) as { default: { custom: { esbuild: { outputWorkFolder?: string } } }; BENCH_BUILD_FOLDER: string };
    expect(bench.default.custom.esbuild.outputWorkFolder).toBe(bench.BENCH_BUILD_FOLDER);
    expect(bench.BENCH_BUILD_FOLDER).not.toBe('.esbuild');
  });

  it(`keeps the API bundle under ${API_BUNDLE_BUDGET_BYTES / 1000} KB`, () => {
    const api = bundles.find((b) => b.fn === 'api')!;
    expect(api.code.size).toBeLessThan(API_BUNDLE_BUDGET_BYTES);
  });

  it('ships a source map beside each bundle, which the bundle points to', () => {
    for (const bundle of bundles) {
      expect(bundle.map, bundle.fn).toBeDefined();
      expect(bundle.sources.length, bundle.fn).toBeGreaterThan(10);
      const pointer = `//# sourceMappingURL=${bundle.code.name.split('/').at(-1)}.map`;
      expect(bundle.text.trimEnd().endsWith(pointer), `${bundle.fn} ends with ${pointer}`).toBe(true);
    }
  });

  it('minifies each bundle', () => {
    for (const bundle of bundles) {
      const lines = bundle.text.split('\n').length;
      // Minified code runs to thousands of characters a line; only the legal comments at the end break lines.
      expect(bundle.code.size / lines, bundle.fn).toBeGreaterThan(1000);
    }
  });

  it('starts the packaged API outside the local stage, with its secrets read from SSM, and logs a user in', async () => {
    // The api bundle as Lambda would load it, with the prod template's environment, against a fake
    // SSM and real DynamoDB and SQS emulators (all on 127.0.0.1, reached through the SDK's
    // AWS_ENDPOINT_URL_<SERVICE> settings, as the template sets no endpoint outside the local stage).
    const api = bundles.find((b) => b.fn === 'api')!;
    const dir = await mkdtemp(join(tmpdir(), 'doozer-api-bundle-'));
    const emulators = await startTestEmulators();
    const secret = randomBytes(32).toString('base64url');
    const password = 'a password for the bundle test';
    const users = JSON.stringify([{ username: 'bundle-test-user', passwordHash: await hashPassword(password) }]);
    const ssm = await startFakeAws((request) => {
      if (request.target !== 'AmazonSSM.GetParameters') return undefined;
      const { Names } = JSON.parse(request.body) as { Names: string[] };
      const values: Record<string, string> = { '/doozer/prod/jwt-secret': secret, '/doozer/prod/users': users };
      return {
        body: {
          Parameters: Names.filter((name) => name in values).map((Name) => ({ Name, Type: 'SecureString', Value: values[Name], Version: 1 })),
          InvalidParameters: Names.filter((name) => !(name in values)),
        },
      };
    });
    try {
      await writeFile(join(dir, 'api.mjs'), api.text);
      await writeFile(join(dir, 'api.mjs.map'), api.mapText!);
      const templateEnv = resource(prod.template, 'ApiLambdaFunction').Environment.Variables as Record<string, unknown>;
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(templateEnv)) if (typeof value === 'string') env[key] = value;
      expect(templateEnv.DOOZER_QUEUE_URL).toEqual({ Ref: 'TaskQueue' });
      const results = await invokeBundle(join(dir, 'api.mjs'), {
        ...env,
        DOOZER_QUEUE_URL: emulators.queues.taskQueueUrl,
        DOOZER_TABLE_NAME: emulators.tableName,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
        AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      }, [
        httpApiEvent('GET', '/health'),
        httpApiEvent('POST', '/auth/token', { username: 'bundle-test-user', password }),
      ]);
      expect(results.map((r) => r.statusCode)).toEqual([200, 200]);
      expect(JSON.parse(results[1]!.body)).toMatchObject({ tokenType: 'Bearer' });
      const reads = ssm.requests.filter((r) => r.target === 'AmazonSSM.GetParameters');
      expect(reads.map((r) => JSON.parse(r.body))).toEqual([
        { Names: ['/doozer/prod/jwt-secret', '/doozer/prod/users'], WithDecryption: true },
      ]);
    } finally {
      await Promise.all([ssm.close(), emulators.stop(), rm(dir, { recursive: true, force: true })]);
    }
  });

  it('bundles no AWS SDK v2 (aws-sdk), only the modular v3 clients', () => {
    for (const bundle of bundles) {
      expect(bundle.sources.filter((source) => /(^|\/)node_modules\/aws-sdk\//.test(source)), bundle.fn).toEqual([]);
      // Booleans, not the text: a failure should not print 700 KB of bundle.
      expect(bundle.text.includes('aws-sdk/lib/'), `${bundle.fn} has aws-sdk/lib/`).toBe(false);
      expect(/AWS\.config\.update|new AWS\.[A-Z]/.test(bundle.text), `${bundle.fn} uses AWS.config or new AWS.*`).toBe(false);
      // The web function calls no AWS service.
      expect(bundle.sources.some((source) => source.includes('node_modules/@aws-sdk/')), bundle.fn).toBe(bundle.fn !== 'web');
    }
  });

  it('carries the page and the docs in the web bundle alone, and serves them from it as Lambda would', async () => {
    const web = bundles.find((b) => b.fn === 'web')!;
    expect(web.code.size).toBeLessThan(WEB_BUNDLE_BUDGET_BYTES);
    for (const bundle of bundles.filter((b) => b.fn !== 'web')) {
      expect(bundle.text.includes('SwaggerUIBundle') || bundle.text.includes('swagger-ui-bundle'), `${bundle.fn} holds Swagger UI`).toBe(false);
    }
    const dir = await mkdtemp(join(tmpdir(), 'doozer-web-bundle-'));
    try {
      await writeFile(join(dir, 'web.mjs'), web.text);
      const gzipped = { 'accept-encoding': 'gzip, deflate, br' };
      const [page, docs, identity] = await invokeBundle(join(dir, 'web.mjs'), { AWS_REGION: 'us-east-1' }, [
        httpApiEvent('GET', '/', undefined, gzipped),
        httpApiEvent('GET', '/docs', undefined, gzipped),
        httpApiEvent('GET', '/docs'),
      ]);
      const html = (result: typeof page) => gunzipSync(Buffer.from(result!.body, 'base64')).toString('utf8');
      expect(page).toMatchObject({ statusCode: 200, isBase64Encoded: true, headers: { 'content-encoding': 'gzip' } });
      expect(html(page)).toContain('<main id="main"');
      const scripts = [...html(docs).matchAll(/<script src="([^"]+)"/g)].map((match) => match[1]!);
      expect(scripts.some((src) => src.startsWith('/docs/swagger-ui/'))).toBe(true);
      expect(identity).toMatchObject({ statusCode: 200, isBase64Encoded: false });
      expect(identity!.body).toBe(html(docs));
      // Each file the docs page loads comes from the same bundle: no CDN.
      const files = await invokeBundle(join(dir, 'web.mjs'), { AWS_REGION: 'us-east-1' }, scripts.map((src) => httpApiEvent('GET', src, undefined, gzipped)));
      expect(files.map((file) => file.statusCode)).toEqual(scripts.map(() => 200));
      expect(html(files[0]!)).toContain('SwaggerUIBundle');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface InvokeResult {
  statusCode: number;
  body: string;
  isBase64Encoded?: boolean;
  headers?: Record<string, string>;
}

/** An API Gateway HTTP API (payload 2.0) event, as the api function receives it. */
function httpApiEvent(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'api.example.com', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'template.test' },
      requestId: `request-${method}-${path}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

/**
 * Loads a bundled handler in a fresh Node process with `env` (its module scope reads the
 * environment, as on a Lambda cold start), invokes it with each event in turn and returns the
 * responses. The process's stdout is the function's log, so the responses come back in a file.
 */
async function invokeBundle(
  bundle: string,
  env: Record<string, string>,
  events: unknown[],
): Promise<InvokeResult[]> {
  const out = `${bundle}.results.json`;
  const script = `
    import { writeFileSync } from 'node:fs';
    const { handler } = await import(process.argv[1]);
    const context = {
      awsRequestId: 'bundle-test', functionName: 'doozer-prod-api', functionVersion: '$LATEST', memoryLimitInMB: '512',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:doozer-prod-api',
      getRemainingTimeInMillis: () => 10_000,
    };
    const results = [];
    for (const event of JSON.parse(process.env.TEST_EVENTS)) results.push(await handler(event, context));
    writeFileSync(process.env.TEST_RESULTS, JSON.stringify(results));
  `;
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, pathToFileURL(bundle).href],
      { env: { PATH: process.env.PATH, ...env, TEST_EVENTS: JSON.stringify(events), TEST_RESULTS: out }, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`the bundle failed:\n${stdout}\n${stderr}`)) : resolve()),
    );
  });
  return JSON.parse(await readFile(out, 'utf8')) as InvokeResult[];
}
