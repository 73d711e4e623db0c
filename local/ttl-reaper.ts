import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ServerlessYml, readServerlessYml, serverlessResources } from './serverless-resources.ts';
import { STAGE } from './settings.ts';

/** Items read per scan request, and the pause between two: a pass yields to the emulators' requests. */
const PAGE_ITEMS = 250;
const PAUSE_BETWEEN_PAGES_MS = 5;

/**
 * The attribute serverless.yml gives the task table's TTL (`expiresAt`, epoch seconds), read from the
 * template as local/provision.ts reads the rest of the table; undefined when TTL is off there, and
 * then, as on AWS, nothing expires.
 */
const TTL_ATTRIBUTE = ttlAttributeOf(await readServerlessYml());

function ttlAttributeOf(yml: ServerlessYml): string | undefined {
  const table = serverlessResources(yml, ['AWS::DynamoDB::Table'], { stage: STAGE, env: {} }).TaskTable;
  if (!table) throw new Error('serverless.yml has no AWS::DynamoDB::Table TaskTable');
  const ttl = table.Properties.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  return ttl?.Enabled ? ttl.AttributeName : undefined;
}

export interface TtlReaperOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seconds between two passes (600); DynamoDB's TTL itself promises nothing tighter than days. */
  readonly everySeconds?: number;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/**
 * The local stand-in for DynamoDB's Time to Live, which dynalite lacks: at start and every ten
 * minutes a pass scans the table and deletes the items whose TTL attribute (TTL_ATTRIBUTE, epoch
 * seconds) has passed, so a local stack that keeps its data across restarts does not grow without
 * bound. The scan goes a page of a few hundred items at a time with a pause between pages: it runs
 * in the process that also serves both emulators, and must not stall them. On AWS, TTL does this.
 * Each delete is conditioned on the item still being expired, since some items (login attempts)
 * push their expiry forward as they change.
 */
export class TtlReaper {
  readonly #options: TtlReaperOptions;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<number> | undefined;

  constructor(options: TtlReaperOptions) {
    this.#options = options;
  }

  /** Runs a pass now, then one every `everySeconds`. */
  start(): void {
    void this.#run();
    this.#timer = setInterval(() => void this.#run(), (this.#options.everySeconds ?? 600) * 1000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pass?.catch(() => {});
  }

  /** One pass: deletes every expired item; returns how many. */
  async reap(): Promise<number> {
    const { documents, tableName } = this.#options;
    if (TTL_ATTRIBUTE === undefined) return 0;
    const names = { '#ttl': TTL_ATTRIBUTE };
    const nowSeconds = Math.floor((this.#options.now ?? Date.now)() / 1000);
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new ScanCommand({
          TableName: tableName,
          ProjectionExpression: 'id',
          FilterExpression: '#ttl <= :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':now': nowSeconds },
          ExclusiveStartKey: startKey,
          Limit: PAGE_ITEMS,
        }),
      );
      for (const item of page.Items ?? []) {
        try {
          await documents.send(
            new DeleteCommand({
              TableName: tableName,
              Key: { id: item.id },
              ConditionExpression: '#ttl <= :now',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: { ':now': nowSeconds },
            }),
          );
          deleted += 1;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
      startKey = page.LastEvaluatedKey;
      if (startKey) await sleep(PAUSE_BETWEEN_PAGES_MS);
    } while (startKey);
    return deleted;
  }

  async #run(): Promise<void> {
    if (this.#pass) return; // The previous pass is still going.
    this.#pass = this.reap();
    try {
      const deleted = await this.#pass;
      if (deleted > 0) this.#options.log?.(`deleted ${deleted} expired items (the local stand-in for DynamoDB TTL)`);
    } catch (error) {
      this.#options.log?.(`expiring items failed, will try again: ${(error as Error).message}`);
    } finally {
      this.#pass = undefined;
    }
  }
}
