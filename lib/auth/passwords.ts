import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes in the form `scrypt$N$r$p$<salt>$<hash>` (base64url), so the cost travels with
 * the hash and can be raised later without breaking stored ones.
 */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_COST: ScryptCost = { N: 16_384, r: 8, p: 1 };
const KEY_LENGTH = 32;
/** Shorter salts or keys are not hashes we made: refuse them rather than compare a few bytes. */
const MIN_SALT_BYTES = 16;
const MIN_KEY_BYTES = 16;
const FORMAT = /^scrypt\$(\d{1,10})\$(\d{1,4})\$(\d{1,4})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

interface ParsedHash {
  readonly cost: ScryptCost;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parse(encoded: string): ParsedHash | undefined {
  const match = FORMAT.exec(encoded);
  if (!match) return undefined;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const salt = Buffer.from(match[4]!, 'base64url');
  const key = Buffer.from(match[5]!, 'base64url');
  // scrypt needs N a power of two above 1, and r, p at least 1.
  const validCost = N > 1 && (N & (N - 1)) === 0 && r >= 1 && p >= 1;
  if (!validCost || salt.length < MIN_SALT_BYTES || key.length < MIN_KEY_BYTES) return undefined;
  return { cost: { N, r, p }, salt, key };
}

function derive(password: string, salt: Buffer, length: number, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must cover 128 * N * r bytes, or larger costs fail outright.
    const maxmem = 256 * cost.N * cost.r;
    scrypt(password, salt, length, { ...cost, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(MIN_SALT_BYTES);
  const key = await derive(password, salt, KEY_LENGTH, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True for a well-formed hash with usable parameters. */
export function isPasswordHash(value: string): boolean {
  return parse(value) !== undefined;
}

/** The cost a hash was made with, so a decoy can be made to take as long. */
export function costOf(encoded: string): ScryptCost | undefined {
  return parse(encoded)?.cost;
}

/** Compares in constant time. A malformed hash never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parse(encoded);
  if (!parsed) return false;
  const actual = await derive(password, parsed.salt, parsed.key.length, parsed.cost);
  return timingSafeEqual(actual, parsed.key);
}
