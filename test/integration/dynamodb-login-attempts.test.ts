import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLoginAttempts } from '../../lib/aws/dynamodb-login-attempts.ts';
import { type TestEmulators, startTestEmulators } from '../support/emulators.ts';

describe('DynamoDbLoginAttempts (dynalite)', () => {
  let emulators: TestEmulators;
  let attempts: DynamoDbLoginAttempts;

  beforeAll(async () => {
    emulators = await startTestEmulators();
    attempts = new DynamoDbLoginAttempts({ client: emulators.documents, tableName: emulators.tableName });
  });

  afterAll(async () => {
    await emulators?.stop();
  });

  it('counts concurrent failures atomically', async () => {
    await Promise.all(Array.from({ length: 20 }, () => attempts.addFailure('user-a', 2_000_000_000)));
    expect(await attempts.failures('user-a', 2_000_000_000)).toBe(20);
  });

  it('keeps windows and users apart, and clears one window', async () => {
    await attempts.addFailure('user-b', 2_000_000_000);
    await attempts.addFailure('user-b', 2_000_000_900);
    await attempts.addFailure('user-c', 2_000_000_000);
    await attempts.clear('user-b', 2_000_000_000);
    expect(await attempts.failures('user-b', 2_000_000_000)).toBe(0);
    expect(await attempts.failures('user-b', 2_000_000_900)).toBe(1);
    expect(await attempts.failures('user-c', 2_000_000_000)).toBe(1);
  });

  it('reads no failures for a user never seen', async () => {
    expect(await attempts.failures('nobody', 2_000_000_000)).toBe(0);
  });
});
