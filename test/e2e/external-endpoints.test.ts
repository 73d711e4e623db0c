import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startDynamoDbEmulator, startSqsEmulator } from '../../local/emulators.ts';
import { LOCAL_CREDENTIALS, REGION, RESOURCE_NAMES } from '../../local/settings.ts';
import { type StackProcess, startStackProcess } from '../support/local-stack-process.ts';

/**
 * The path LocalStack users take: DOOZER_SQS_ENDPOINT and DOOZER_DYNAMODB_ENDPOINT point the stack at
 * services that already run. LocalStack needs Docker, which these machines lack, so emulators started
 * here stand in for it: the test proves the stack provisions and uses whatever the endpoints name.
 */
describe('npm start with external SQS and DynamoDB endpoints', () => {
  let sqs: Emulator;
  let dynamodb: Emulator;
  let stack: StackProcess;

  beforeAll(async () => {
    sqs = await startSqsEmulator(0);
    dynamodb = await startDynamoDbEmulator(0);
    stack = await startStackProcess({
      workers: true,
      env: { DOOZER_SQS_ENDPOINT: sqs.endpoint, DOOZER_DYNAMODB_ENDPOINT: dynamodb.endpoint },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await sqs?.stop();
    await dynamodb?.stop();
  });

  it('runs tasks through the external services', async () => {
    const tokenResponse = await fetch(`${stack.apiUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'doozer', password: 'doozer' }),
    });
    const { token } = (await tokenResponse.json()) as { token: string };
    const response = await fetch(`${stack.apiUrl}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'add', args: [1, 2, 3, 4, 5, 6] }),
    });
    const task = (await response.json()) as { id: string; result: number };
    expect(response.status).toBe(200);
    expect(task.result).toBe(21);

    const documents = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region: REGION, credentials: LOCAL_CREDENTIALS, endpoint: dynamodb.endpoint }),
    );
    const { Item } = await documents.send(new GetCommand({ TableName: RESOURCE_NAMES.table, Key: { id: task.id } }));
    expect(Item).toMatchObject({ id: task.id, state: 'SUCCESS', resultJson: '21' });
    documents.destroy();
  });

  it('reports the external endpoints instead of embedded emulators', () => {
    expect(stack.output()).toContain(`SQS        ${sqs.endpoint}`);
    expect(stack.output()).toContain(`DynamoDB   ${dynamodb.endpoint}`);
  });
});
