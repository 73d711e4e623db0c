import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AwsConfig } from '../config.ts';

/**
 * Timeouts keep an unreachable dependency from hanging a request past its wait budget: a refused
 * connection fails at once, a silent one within `connectionTimeout`, and the SDK's standard retry
 * mode (3 attempts) stays well inside the API function's timeout.
 */
const REQUEST_HANDLER = { connectionTimeout: 1_000, requestTimeout: 2_000 } as const;

/** Create once per process (at cold start), never per request. */
export function createDynamoDbDocumentClient(config: AwsConfig): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: config.region,
    ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }),
    requestHandler: REQUEST_HANDLER,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function createSqsClient(config: AwsConfig): SQSClient {
  return new SQSClient({
    region: config.region,
    ...(config.sqsEndpoint && { endpoint: config.sqsEndpoint }),
    requestHandler: REQUEST_HANDLER,
  });
}

/**
 * SSM Parameter Store, for the API's secrets at cold start (before the configuration exists): the
 * SDK takes the region from AWS_REGION, which Lambda always sets. Creating it makes no call; the
 * local stage never uses it.
 */
export function createSsmClient(): SSMClient {
  return new SSMClient({ requestHandler: REQUEST_HANDLER });
}
