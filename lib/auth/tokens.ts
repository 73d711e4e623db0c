import { webcrypto } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { UnauthorizedError } from '../errors.ts';

const ALGORITHM = 'HS256';

export interface TokenSettings {
  /** The HS256 key: at least 32 bytes. */
  readonly secret: string;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly tokenType: 'Bearer';
  readonly expiresIn: number;
}

/** Makes and checks the API's bearer tokens (JWT, HS256) with jose. */
export class TokenIssuer {
  /**
   * Imported once: given the raw bytes, jose imports a WebCrypto key on every sign and verify,
   * which measured about a quarter of the CPU of an in-memory authenticated request.
   */
  readonly #key: Promise<webcrypto.CryptoKey>;
  readonly #settings: TokenSettings;

  constructor(settings: TokenSettings) {
    this.#key = webcrypto.subtle.importKey('raw', new TextEncoder().encode(settings.secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    // A failed import surfaces on the first sign or verify; never as an unhandled rejection.
    this.#key.catch(() => {});
    this.#settings = settings;
  }

  async issue(subject: string): Promise<IssuedToken> {
    const { issuer, audience, ttlSeconds } = this.#settings;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT()
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(issuer)
      .setAudience(audience)
      // One clock reading for both, so exp - iat is exactly the lifetime.
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(await this.#key);
    return { token, tokenType: 'Bearer', expiresIn: ttlSeconds };
  }

  /**
   * Returns the token's subject. The algorithm, issuer and audience are pinned, and sub and exp are
   * required; any failure becomes an UnauthorizedError that keeps jose's error as its cause.
   */
  async verify(token: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(token, await this.#key, {
        algorithms: [ALGORITHM],
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        requiredClaims: ['sub', 'exp', 'iat'],
        // Also refuses an iat in the future, and a token whose exp was set further out than we issue.
        maxTokenAge: this.#settings.ttlSeconds,
        // The API's instances do not share one clock; NTP keeps them well within this.
        clockTolerance: 2,
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new UnauthorizedError('the token has no subject', { bearerError: 'invalid_token' });
      }
      return payload.sub;
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      throw new UnauthorizedError(describe(error), { bearerError: 'invalid_token', cause: error });
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  return 'the token is not valid';
}
