import type { SimulationResult } from './simulation.ts';

/**
 * What a sync task costs on AWS at public on-demand prices. The event source mapping's
 * ReceiveMessage and DeleteMessage(Batch) are SQS requests billed to the queue's owner.
 */

/** Public on-demand prices, us-east-1, USD. */
export interface Prices {
  readonly apiGatewayHttpPerMillion: number;
  readonly lambdaRequestPerMillion: number;
  readonly lambdaArmPerGbSecond: number;
  readonly sqsStandardPerMillion: number;
  readonly dynamoWriteUnitPerMillion: number;
  readonly dynamoReadUnitPerMillion: number;
}

export const PRICES: Prices = {
  apiGatewayHttpPerMillion: 1.0,
  lambdaRequestPerMillion: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  sqsStandardPerMillion: 0.4,
  dynamoWriteUnitPerMillion: 0.625,
  dynamoReadUnitPerMillion: 0.125,
};

export const PRICE_SOURCES: Record<keyof Prices, string> = {
  apiGatewayHttpPerMillion:
    'HTTP API, first 300 M requests/month, metered per 512 KB: aws.amazon.com/api-gateway/pricing; also docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html',
  lambdaRequestPerMillion: 'aws.amazon.com/lambda/pricing (requests, any architecture)',
  lambdaArmPerGbSecond:
    'aws.amazon.com/lambda/pricing (Arm, first 7.5 B GB-s/month; duration rounded up to 1 ms)',
  sqsStandardPerMillion:
    'aws.amazon.com/sqs/pricing (standard queue, after the first 1 M free; each 64 KB chunk of a payload is one request)',
  dynamoWriteUnitPerMillion:
    'aws.amazon.com/dynamodb/pricing/on-demand (since the Nov 2024 cut; 1 WRU = a standard write of up to 1 KB)',
  dynamoReadUnitPerMillion:
    'aws.amazon.com/dynamodb/pricing/on-demand (1 RRU = a strongly consistent read of up to 4 KB)',
};

/** What one sync task uses of each billed thing. */
export interface TaskUsage {
  readonly apiGatewayRequests: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly sqsRequests: number;
  readonly dynamoWriteUnits: number;
  readonly dynamoReadUnits: number;
}

export interface UsageOptions {
  /** Lambda memory, MB (serverless.yml: 512 for every function). */
  readonly memoryMb: number;
  /** Tasks per worker invocation (batchSize 10, batching window 0: 1 at low load). */
  readonly tasksPerBatch: number;
}

/**
 * Per sync task: 1 API Gateway request; Lambda: the API invocation, 1/batch worker invocation, and
 * both functions' billed time at `memoryMb`; SQS: SendMessage, plus the event source mapping's
 * ReceiveMessage and DeleteMessage(Batch), one each per batch (its empty long polls are a fixed
 * cost per poller, not per task); DynamoDB: PutItem PENDING (1 WRU) plus its entry in the sparse
 * open-tasks index (1 WRU), UpdateItem SUCCESS (1 WRU) plus its removal from the index (1 WRU):
 * 4 WRU, items under 1 KB;
 * and one RRU per consistent GetItem of an item under 4 KB.
 */
export function taskUsage(
  result: Pick<SimulationResult, 'readsMean' | 'apiBilledMeanMs' | 'workerBilledMeanMs'>,
  options: UsageOptions,
): TaskUsage {
  const gb = options.memoryMb / 1024;
  return {
    apiGatewayRequests: 1,
    lambdaRequests: 1 + 1 / options.tasksPerBatch,
    lambdaGbSeconds: gb * (result.apiBilledMeanMs + result.workerBilledMeanMs / options.tasksPerBatch) / 1000,
    sqsRequests: 1 + 2 / options.tasksPerBatch,
    dynamoWriteUnits: 4,
    dynamoReadUnits: result.readsMean,
  };
}

export interface CostBreakdown {
  readonly apiGateway: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly sqs: number;
  readonly dynamoWrites: number;
  readonly dynamoReads: number;
  readonly total: number;
}

/** USD per million tasks of the given usage. */
export function costPerMillion(usage: TaskUsage, prices: Prices = PRICES): CostBreakdown {
  const parts = {
    apiGateway: usage.apiGatewayRequests * prices.apiGatewayHttpPerMillion,
    lambdaRequests: usage.lambdaRequests * prices.lambdaRequestPerMillion,
    lambdaDuration: usage.lambdaGbSeconds * 1e6 * prices.lambdaArmPerGbSecond,
    sqs: usage.sqsRequests * prices.sqsStandardPerMillion,
    dynamoWrites: usage.dynamoWriteUnits * prices.dynamoWriteUnitPerMillion,
    dynamoReads: usage.dynamoReadUnits * prices.dynamoReadUnitPerMillion,
  };
  return { ...parts, total: Object.values(parts).reduce((sum, value) => sum + value, 0) };
}

/** SQS receives one idle event-source poller makes in a 30-day month (20 s long polls). */
export const IDLE_RECEIVES_PER_POLLER_MONTH = (30 * 24 * 3600) / 20;
