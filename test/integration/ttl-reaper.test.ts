import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { TtlReaper } from '../../local/ttl-reaper.ts';
import { useEmulators } from '../support/emulators.ts';

describe('TtlReaper, the local stand-in for DynamoDB TTL (dynalite)', () => {
  const emulators = useEmulators();

  it('deletes every item whose expiresAt has passed, over several scan pages, and keeps the rest', async () => {
    const nowMs = 1_900_000_000_000;
    const nowSeconds = nowMs / 1000;
    const put = (id: string, expiresAt: number | undefined, padding = '') =>
      emulators.documents.send(new PutCommand({ TableName: emulators.tableName, Item: { id, ...(expiresAt !== undefined && { expiresAt }), padding } }));
    // Big enough items that one scan page (1 MB) cannot hold them all.
    const filler = 'x'.repeat(100_000);
    for (let i = 0; i < 15; i += 1) await put(`expired-${i}`, nowSeconds - 1 - i, filler);
    await put('expires-now', nowSeconds);
    await put('live', nowSeconds + 1);
    await put('no-expiry', undefined);

    const reaper = new TtlReaper({ documents: emulators.documents, tableName: emulators.tableName, now: () => nowMs });
    expect(await reaper.reap()).toBe(16);
    expect(await reaper.reap()).toBe(0);

    const { Items = [] } = await emulators.documents.send(new ScanCommand({ TableName: emulators.tableName, ProjectionExpression: 'id' }));
    expect(Items.map((item) => item.id).sort()).toEqual(['live', 'no-expiry']);
  });
});
