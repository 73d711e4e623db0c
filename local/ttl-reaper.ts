import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';

export interface TtlReaperOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seconds between two passes; DynamoDB's TTL itself gives no promise tighter than a couple of days. */
  readonly everySeconds?: number;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/**
 * The local stand-in for DynamoDB's Time to Live, which dynalite lacks: every pass scans the table
 * and deletes the items whose `expiresAt` (epoch seconds, the attribute serverless.yml gives TTL) has
 * passed, so a local stack that keeps its data across restarts does not grow without bound. A scan
 * is fine for a laptop's table; on AWS, TTL does this. Each delete is conditioned on the item still
 * being expired, since some items (login attempts) push their expiry forward as they change.
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
    this.#timer = setInterval(() => void this.#run(), (this.#options.everySeconds ?? 60) * 1000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pass?.catch(() => {});
  }

  /** One pass: deletes every expired item; returns how many. */
  async reap(): Promise<number> {
    const { documents, tableName } = this.#options;
    const nowSeconds = Math.floor((this.#options.now ?? Date.now)() / 1000);
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new ScanCommand({
          TableName: tableName,
          ProjectionExpression: 'id',
          FilterExpression: 'expiresAt <= :now',
          ExpressionAttributeValues: { ':now': nowSeconds },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        try {
          await documents.send(
            new DeleteCommand({
              TableName: tableName,
              Key: { id: item.id },
              ConditionExpression: 'expiresAt <= :now',
              ExpressionAttributeValues: { ':now': nowSeconds },
            }),
          );
          deleted += 1;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
      startKey = page.LastEvaluatedKey;
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
