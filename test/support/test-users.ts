import { type ScryptCost, hashPassword } from '../../lib/auth/passwords.ts';
import { UserDirectory } from '../../lib/auth/users.ts';

/** A low scrypt cost: a login costs microseconds in tests; the hash format and checks are the real ones. */
export const TEST_SCRYPT_COST: ScryptCost = { N: 16, r: 8, p: 1 };

/** An scrypt hash of `password` at the test cost. */
export function testPasswordHash(password: string): Promise<string> {
  return hashPassword(password, TEST_SCRYPT_COST);
}

/** A UserDirectory of `{ username: password }`, the passwords hashed at the test cost. */
export async function testUserDirectory(passwords: Readonly<Record<string, string>>): Promise<UserDirectory> {
  return new UserDirectory(
    await Promise.all(
      Object.entries(passwords).map(async ([username, password]) => ({ username, passwordHash: await testPasswordHash(password) })),
    ),
  );
}
