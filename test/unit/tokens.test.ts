import { SignJWT, base64url, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenIssuer, type TokenSettings } from '../../lib/auth/tokens.ts';
import { UnauthorizedError } from '../../lib/errors.ts';

const SETTINGS: TokenSettings = {
  secret: 'a-test-secret-that-is-at-least-32-characters-long',
  issuer: 'doozer',
  audience: 'doozer-api',
  ttlSeconds: 3600,
};
const KEY = new TextEncoder().encode(SETTINGS.secret);

const issuer = new TokenIssuer(SETTINGS);
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A token signed like the real ones; `change` adjusts it before signing. */
function validToken(
  change: (jwt: SignJWT) => SignJWT = (jwt) => jwt,
  { key = KEY, alg = 'HS256' }: { key?: Uint8Array; alg?: string } = {},
): Promise<string> {
  const jwt = new SignJWT()
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setSubject('alice')
    .setIssuer(SETTINGS.issuer)
    .setAudience(SETTINGS.audience)
    .setIssuedAt()
    .setExpirationTime('1h');
  return change(jwt).sign(key);
}

/** Verifies and returns the rejection, which must be an UnauthorizedError. */
async function rejectionOf(token: string): Promise<UnauthorizedError & { cause?: { code?: string } }> {
  const error = await issuer.verify(token).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  const unauthorized = error as UnauthorizedError & { cause?: { code?: string } };
  expect(unauthorized.code).toBe('unauthorized');
  expect(unauthorized.status).toBe(401);
  expect(unauthorized.bearerError).toBe('invalid_token');
  return unauthorized;
}

describe('TokenIssuer.issue and verify', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('issues a bearer token that verifies back to its subject', async () => {
    const issued = await issuer.issue('alice');
    expect(issued.tokenType).toBe('Bearer');
    expect(issued.expiresIn).toBe(SETTINGS.ttlSeconds);
    await expect(issuer.verify(issued.token)).resolves.toBe('alice');
  });

  it('signs with HS256 and sets sub, iss, aud, and exp - iat equal to the ttl', async () => {
    // Freeze Date: jose reads the time separately for iat and exp.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-01-01T00:00:00.999Z') });
    const { token } = await issuer.issue('alice');
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const claims = decodeJwt(token);
    expect(claims.sub).toBe('alice');
    expect(claims.iss).toBe('doozer');
    expect(claims.aud).toBe('doozer-api');
    expect(claims.iat).toBe(Math.floor(Date.parse('2030-01-01T00:00:00Z') / 1000));
    expect(claims.exp! - claims.iat!).toBe(SETTINGS.ttlSeconds);
  });

  it('honours a custom ttl', async () => {
    const shortLived = new TokenIssuer({ ...SETTINGS, ttlSeconds: 60 });
    const issued = await shortLived.issue('bob');
    const claims = decodeJwt(issued.token);
    expect(issued.expiresIn).toBe(60);
    expect(claims.exp! - claims.iat!).toBeGreaterThanOrEqual(60);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(61);
  });

  it('accepts a token made by another issuer instance with the same settings', async () => {
    const { token } = await new TokenIssuer(SETTINGS).issue('carol');
    await expect(issuer.verify(token)).resolves.toBe('carol');
  });
});

describe('TokenIssuer.verify rejects', () => {
  it('an expired token, with ERR_JWT_EXPIRED as the cause', async () => {
    const token = await validToken((jwt) => jwt.setIssuedAt(nowSeconds() - 7200).setExpirationTime(nowSeconds() - 3600));
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWT_EXPIRED');
  });

  it('a token signed with another secret', async () => {
    const token = await validToken(undefined, { key: new TextEncoder().encode('another-secret-that-is-also-32-characters!') });
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('a token from another issuer', async () => {
    const token = await validToken((jwt) => jwt.setIssuer('someone-else'));
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('a token for another audience', async () => {
    const token = await validToken((jwt) => jwt.setAudience('another-api'));
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('an unsigned token (alg none)', async () => {
    const encode = (value: object) => base64url.encode(JSON.stringify(value));
    const now = nowSeconds();
    const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({
      sub: 'alice',
      iss: SETTINGS.issuer,
      aud: SETTINGS.audience,
      iat: now,
      exp: now + 3600,
    })}.`;
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('a token signed with the right secret but another HMAC algorithm', async () => {
    const token = await validToken(undefined, { alg: 'HS512' });
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await validToken()).split('.');
    const forged = base64url.encode(
      JSON.stringify({ sub: 'admin', iss: SETTINGS.issuer, aud: SETTINGS.audience, iat: nowSeconds(), exp: nowSeconds() + 3600 }),
    );
    expect((await rejectionOf(`${header}.${forged}.${signature}`)).cause?.code).toBe(
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
  });

  it('a token without a subject', async () => {
    const token = await new SignJWT()
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(SETTINGS.issuer)
      .setAudience(SETTINGS.audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(KEY);
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('a token with an empty subject', async () => {
    const token = await validToken((jwt) => jwt.setSubject(''));
    await rejectionOf(token);
  });

  it('a token without an expiry', async () => {
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(SETTINGS.issuer)
      .setAudience(SETTINGS.audience)
      .setIssuedAt()
      .sign(KEY);
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it.each(['garbage', '', 'a.b.c', 'not.a.jwt.at.all'])('the garbage string %j', async (token) => {
    expect((await rejectionOf(token)).cause?.code).toBe('ERR_JWS_INVALID');
  });
});
