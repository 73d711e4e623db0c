import { type LogNormal, fitLogNormal, fitShiftedLogNormal } from './statistics.ts';

/**
 * The hops of one sync task on AWS, each as a published latency distribution (or an assumed one,
 * and then said so), and their fits.
 */

/** One hop's latency, as published (or assumed, and then said so), in ms. */
export interface Component {
  /** Published p10 and p90, where the source gives them: p10 shapes the fit, p90 checks it. */
  readonly p10?: number;
  readonly p90?: number;
  readonly p50: number;
  readonly p99: number;
  readonly what: string;
  readonly source: string;
}

export interface LatencyModel {
  /** API Gateway HTTP API's own time (its Latency minus IntegrationLatency), both ways together. */
  readonly apiGateway: Component;
  /** A warm synchronous Lambda invoke: gateway relays the request -> handler runs, and back. */
  readonly lambdaInvoke: Component;
  readonly dynamoRead: Component;
  readonly dynamoWrite: Component;
  /** SendMessage, from the call to its answer (the API waits for it before it starts reading). */
  readonly sqsSend: Component;
  /** From the start of SendMessage to the worker's handler running (queue, poller, invoke). */
  readonly queueHop: Component;
  /** CPU in the API handler before its first call (routing, JWT verify, body validation), ms. */
  readonly apiCpuBeforeMs: number;
  /** CPU in the API handler after the last read (task view, JSON), ms. */
  readonly apiCpuAfterMs: number;
  /** CPU in the worker between its two writes (decode, run an add), ms. */
  readonly workerCpuMs: number;
  /** Worker time outside the two writes (batch processor, partial-batch response), ms. */
  readonly workerOverheadMs: number;
  /**
   * Where inside a call its effect lands, as a fraction of its duration: a write is visible from,
   * and a read sees the item as of, this point. 0.5 = the server handles it halfway through.
   */
  readonly servicePoint: number;
}

const BITESIZED = 'bitesizedserverless.com/bite/serverless-messaging-latency-compared (SQS Standard -> Lambda ESM, eu-west-1, 2022: p10 13.7, p50 16.2, p90 33.8, p99 105 ms)';
const DDB_SINGLE_DIGIT =
  'docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html ("single-digit millisecond latency"); p50/p99 assumed';
const APIGW_METRICS = 'assumed; measure as Latency - IntegrationLatency (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html)';

export const PUBLISHED_MODEL: LatencyModel = {
  apiGateway: { p50: 6, p99: 20, what: 'API Gateway HTTP API overhead', source: APIGW_METRICS },
  lambdaInvoke: {
    p50: 2,
    p99: 8,
    what: 'Lambda warm invoke overhead (API)',
    source: 'assumed; measure as IntegrationLatency - function Duration',
  },
  dynamoRead: { p50: 4, p99: 10, what: 'DynamoDB GetItem (consistent)', source: DDB_SINGLE_DIGIT },
  dynamoWrite: { p50: 4, p99: 10, what: 'DynamoDB PutItem / UpdateItem', source: DDB_SINGLE_DIGIT },
  sqsSend: {
    p50: 5,
    p99: 15,
    what: 'SQS SendMessage call',
    source: 'assumed (no published distribution found); below the hop p10 of 13.7 ms, which includes it',
  },
  queueHop: { p10: 13.7, p50: 16.2, p90: 33.8, p99: 105, what: 'SQS -> Lambda event source hop', source: BITESIZED },
  apiCpuBeforeMs: 1,
  apiCpuAfterMs: 0.5,
  workerCpuMs: 0.5,
  workerOverheadMs: 1,
  servicePoint: 0.5,
};

export interface FittedModel {
  readonly model: LatencyModel;
  readonly apiGateway: LogNormal;
  readonly lambdaInvoke: LogNormal;
  readonly dynamoRead: LogNormal;
  readonly dynamoWrite: LogNormal;
  readonly sqsSend: LogNormal;
  readonly queueHop: LogNormal;
}

/**
 * Fits each component: through p10, p50 and p99 (a shifted lognormal) where p10 is published, else
 * through p50 and p99. `p50p99Only` fits every component through p50 and p99 alone, as a check of
 * how much the answer depends on the shape between the published points.
 */
export function fitModel(model: LatencyModel, { p50p99Only = false } = {}): FittedModel {
  const fit = (c: Component) =>
    c.p10 !== undefined && !p50p99Only ? fitShiftedLogNormal(c.p10, c.p50, c.p99) : fitLogNormal(c.p50, c.p99);
  return {
    model,
    apiGateway: fit(model.apiGateway),
    lambdaInvoke: fit(model.lambdaInvoke),
    dynamoRead: fit(model.dynamoRead),
    dynamoWrite: fit(model.dynamoWrite),
    sqsSend: fit(model.sqsSend),
    queueHop: fit(model.queueHop),
  };
}
