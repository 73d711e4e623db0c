import { describe, expect, it } from 'vitest';
import { hashPassword, isPasswordHash, verifyPassword } from '../../lib/auth/passwords.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import { UnauthorizedError } from '../../lib/errors.ts';
import { TEST_SCRYPT_COST } from '../support/test-users.ts';


describe('hashPassword and verifyPassword', () => {
  it('verifies the password a hash was made from', async () => {
    const hash = await hashPassword('correct horse battery staple', TEST_SCRYPT_COST);
    await expect(verifyPassword('correct horse battery staple', hash)).resolves.toBe(true);
  });

  it('refuses a wrong password', async () => {
    const hash = await hashPassword('correct horse battery staple', TEST_SCRYPT_COST);
    await expect(verifyPassword('correct horse battery stapler', hash)).resolves.toBe(false);
    await expect(verifyPassword('', hash)).resolves.toBe(false);
  });

  it('writes scrypt$N$r$p$salt$hash with the cost used, a 16-byte salt and a 32-byte key', async () => {
    const hash = await hashPassword('secret', TEST_SCRYPT_COST);
    expect(isPasswordHash(hash)).toBe(true);
    const [scheme, N, r, p, salt, key, ...rest] = hash.split('$');
    expect(rest).toEqual([]);
    expect(scheme).toBe('scrypt');
    expect([Number(N), Number(r), Number(p)]).toEqual([TEST_SCRYPT_COST.N, TEST_SCRYPT_COST.r, TEST_SCRYPT_COST.p]);
    expect(salt).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(key).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(salt!, 'base64url')).toHaveLength(16);
    expect(Buffer.from(key!, 'base64url')).toHaveLength(32);
  });

  it('uses the default cost (N=16384, r=8, p=1) when none is given', async () => {
    const hash = await hashPassword('secret');
    expect(hash.startsWith('scrypt$16384$8$1$')).toBe(true);
    await expect(verifyPassword('secret', hash)).resolves.toBe(true);
  });

  it('salts every hash, so the same password hashes differently each time', async () => {
    const first = await hashPassword('same', TEST_SCRYPT_COST);
    const second = await hashPassword('same', TEST_SCRYPT_COST);
    expect(first).not.toBe(second);
    await expect(verifyPassword('same', second)).resolves.toBe(true);
  });

  it('reads the cost from the hash, so hashes of different costs verify side by side', async () => {
    const cheap = await hashPassword('pw', { N: 16, r: 1, p: 1 });
    const dearer = await hashPassword('pw', { N: 64, r: 8, p: 2 });
    await expect(verifyPassword('pw', cheap)).resolves.toBe(true);
    await expect(verifyPassword('pw', dearer)).resolves.toBe(true);
  });

  it('refuses a hash whose key was changed', async () => {
    const hash = await hashPassword('pw', TEST_SCRYPT_COST);
    const parts = hash.split('$');
    const key = Buffer.from(parts[5]!, 'base64url');
    key[0] = key[0]! ^ 1;
    parts[5] = key.toString('base64url');
    await expect(verifyPassword('pw', parts.join('$'))).resolves.toBe(false);
  });

  it.each([
    ['an empty string', ''],
    ['a plain-text password', 'pw'],
    ['another scheme', 'bcrypt$16$8$1$c2FsdA$a2V5'],
    ['a missing field', 'scrypt$16$8$1$c2FsdA'],
    ['a non-numeric cost', 'scrypt$N$8$1$c2FsdA$a2V5'],
    ['standard base64 padding', 'scrypt$16$8$1$c2FsdA==$a2V5'],
    ['a trailing field', 'scrypt$16$8$1$c2FsdA$a2V5$extra'],
  ])('returns false, without throwing, for a malformed hash: %s', async (_label, encoded) => {
    expect(isPasswordHash(encoded)).toBe(false);
    await expect(verifyPassword('pw', encoded)).resolves.toBe(false);
  });

  // A key that decodes to zero bytes would make timingSafeEqual compare two empty buffers: a match
  // for any password. Such hashes are refused outright.
  it('never matches a well-formatted hash whose key decodes to zero bytes', async () => {
    const encoded = 'scrypt$16$8$1$c2FsdA$A';
    expect(isPasswordHash(encoded)).toBe(false);
    await expect(verifyPassword('any password at all', encoded)).resolves.toBe(false);
  });

  // N must be a power of two, or scrypt throws (and POST /auth/token would answer 500).
  it('returns false for a well-formatted hash with invalid scrypt parameters', async () => {
    const encoded = 'scrypt$3$8$1$c2FsdGMyRnNkR01yUm5Oaw$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';
    expect(isPasswordHash(encoded)).toBe(false);
    await expect(verifyPassword('pw', encoded)).resolves.toBe(false);
  });
});

describe('UserDirectory.authenticate', () => {
  async function directory(): Promise<UserDirectory> {
    return new UserDirectory([
      { username: 'alice', passwordHash: await hashPassword('alice-password', TEST_SCRYPT_COST) },
      { username: 'bob', passwordHash: await hashPassword('bob-password', TEST_SCRYPT_COST) },
    ]);
  }

  it('returns the username when the password is right', async () => {
    const users = await directory();
    await expect(users.authenticate('alice', 'alice-password')).resolves.toBe('alice');
    await expect(users.authenticate('bob', 'bob-password')).resolves.toBe('bob');
  });

  it('throws UnauthorizedError for a wrong password', async () => {
    const users = await directory();
    const error = await users.authenticate('alice', 'bob-password').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as UnauthorizedError).code).toBe('unauthorized');
    // A refused login is not a refused token: no invalid_token challenge.
    expect((error as UnauthorizedError).bearerError).toBeUndefined();
  });

  it('throws UnauthorizedError for an unknown user, however the password is chosen', async () => {
    const users = await directory();
    for (const password of ['alice-password', 'decoy password that no user has']) {
      const error = await users.authenticate('mallory', password).catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as UnauthorizedError).code).toBe('unauthorized');
    }
  });

  it('matches usernames exactly', async () => {
    const users = await directory();
    await expect(users.authenticate('Alice', 'alice-password')).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(users.authenticate('alice ', 'alice-password')).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses everyone when the directory is empty', async () => {
    await expect(new UserDirectory([]).authenticate('alice', 'alice-password')).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });
});
