import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, base64url, decodeJwt, exportJWK, importPKCS8 } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_TOKEN_SETTINGS as TOKEN_SETTINGS, type TestApp, createTestApp } from '../support/app-harness.ts';
import { errorShapeProblems, expectStillServing } from './checks.ts';

/**
 * Known attacks on bearer tokens, sent to the real app in-process on both authenticated routes.
 * Every one must be refused with 401, a Bearer challenge and the one error shape, and nothing may be
 * stored or queued. The closing line (`jwt attacks: N tried, 0 accepted`) is the figure to quote.
 */

const KEY = new TextEncoder().encode(TOKEN_SETTINGS.secret);
const WRONG_KEY = new TextEncoder().encode('a-different-secret-that-is-also-32-characters-long');
const TASK_PATH = '/tasks/task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const encode = (value: object) => base64url.encode(JSON.stringify(value));
const claims = (change: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: 'alice',
  iss: TOKEN_SETTINGS.issuer,
  aud: TOKEN_SETTINGS.audience,
  iat: nowSeconds(),
  exp: nowSeconds() + 3600,
  ...change,
});
/** Drops the claims whose value is undefined, so `claims({ sub: undefined })` has no sub. */
const defined = (payload: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));

function sign(
  payload: Record<string, unknown>,
  {
    key = KEY,
    alg = 'HS256',
    header = {},
  }: { key?: Parameters<SignJWT['sign']>[0]; alg?: string; header?: Record<string, unknown> } = {},
): Promise<string> {
  return new SignJWT(defined(payload)).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

/** An HS256 token signed by hand, for headers that jose refuses to sign. */
function signByHand(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${createHmac('sha256', KEY).update(input).digest('base64url')}`;
}

interface Attack {
  readonly name: string;
  /** The Authorization header(s) to send; none when empty. */
  readonly authorization: readonly string[];
  /** When set, the token must be refused before TokenIssuer.verify runs. */
  readonly refusedBeforeCrypto?: boolean;
}

/** Builds the attacks; tokens are signed at run time so their times are current. */
async function buildAttacks(): Promise<Attack[]> {
  const valid = await sign(claims());
  const [validHeader, validPayload, validSignature] = valid.split('.') as [string, string, string];
  const bearer = (token: string) => [`Bearer ${token}`];

  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rsaPrivate = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPrivate = await importPKCS8(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');
  const attackerJwk = await exportJWK(publicKey);

  const unsigned = (alg: string, signature = '') => `${encode({ alg, typ: 'JWT' })}.${encode(claims())}.${signature}`;
  const oversized = await sign(claims({ pad: 'x'.repeat(64 * 1024) }));

  return [
    { name: 'alg none', authorization: bearer(unsigned('none')) },
    { name: 'alg None', authorization: bearer(unsigned('None')) },
    { name: 'alg NONE', authorization: bearer(unsigned('NONE')) },
    {
      name: 'alg none with a signature kept from a valid token',
      authorization: bearer(unsigned('none', validSignature)),
    },
    { name: 'alg HS256 with the signature stripped', authorization: bearer(`${validHeader}.${validPayload}.`) },
    { name: 'a token signed with the wrong secret', authorization: bearer(await sign(claims(), { key: WRONG_KEY })) },
    {
      name: 'a tampered payload (sub changed to bob, signature kept)',
      authorization: bearer(`${validHeader}.${encode({ ...decodeJwt(valid), sub: 'bob' })}.${validSignature}`),
    },
    {
      name: 'a tampered payload (exp pushed out a year, signature kept)',
      authorization: bearer(
        `${validHeader}.${encode({ ...decodeJwt(valid), exp: nowSeconds() + 31_536_000 })}.${validSignature}`,
      ),
    },
    {
      name: 'a tampered header (alg changed to HS512, signature kept)',
      authorization: bearer(`${encode({ alg: 'HS512', typ: 'JWT' })}.${validPayload}.${validSignature}`),
    },
    {
      name: 'an expired token',
      authorization: bearer(await sign(claims({ iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }))),
    },
    // Verification allows 2 s of clock skew between the API's instances, and no more.
    { name: 'a token expired 3 s ago', authorization: bearer(await sign(claims({ exp: nowSeconds() - 3 }))) },
    {
      name: 'a token not valid yet (nbf in the future)',
      authorization: bearer(await sign(claims({ nbf: nowSeconds() + 600 }))),
    },
    { name: 'a wrong issuer', authorization: bearer(await sign(claims({ iss: 'someone-else' }))) },
    { name: 'no issuer', authorization: bearer(await sign(claims({ iss: undefined }))) },
    { name: 'a wrong audience', authorization: bearer(await sign(claims({ aud: 'another-api' }))) },
    {
      name: 'an audience list without ours',
      authorization: bearer(await sign(claims({ aud: ['another-api', 'doozer'] }))),
    },
    { name: 'no audience', authorization: bearer(await sign(claims({ aud: undefined }))) },
    { name: 'no sub', authorization: bearer(await sign(claims({ sub: undefined }))) },
    { name: 'an empty sub', authorization: bearer(await sign(claims({ sub: '' }))) },
    { name: 'a numeric sub', authorization: bearer(await sign(claims({ sub: 42 }))) },
    { name: 'no exp', authorization: bearer(await sign(claims({ exp: undefined }))) },
    {
      name: 'an exp that is a string',
      authorization: bearer(await sign(claims({ exp: String(nowSeconds() + 3600) }))),
    },
    { name: 'no iat', authorization: bearer(await sign(claims({ iat: undefined }))) },
    {
      name: 'HS/RS confusion: HS256 signed with the RSA public key PEM as the secret',
      authorization: bearer(await sign(claims(), { key: new TextEncoder().encode(publicPem) })),
    },
    { name: 'an RS256 token', authorization: bearer(await sign(claims(), { key: rsaPrivate, alg: 'RS256' })) },
    {
      name: "an RS256 token carrying the attacker's public key in its jwk header",
      authorization: bearer(await sign(claims(), { key: rsaPrivate, alg: 'RS256', header: { jwk: attackerJwk } })),
    },
    { name: 'an ES256 token', authorization: bearer(await sign(claims(), { key: ecPrivate, alg: 'ES256' })) },
    {
      name: 'the right secret with an unencoded payload (b64: false)',
      authorization: bearer(signByHand({ alg: 'HS256', b64: false, crit: ['b64'] }, claims())),
    },
    { name: 'HS512 with the right secret', authorization: bearer(await sign(claims(), { alg: 'HS512' })) },
    { name: 'HS384 with the right secret', authorization: bearer(await sign(claims(), { alg: 'HS384' })) },
    {
      name: 'the right secret with an unknown critical header',
      authorization: bearer(signByHand({ alg: 'HS256', crit: ['x-doozer-admin'], 'x-doozer-admin': true }, claims())),
    },
    {
      name: 'an oversized token (64 KiB, signed with the right secret)',
      authorization: bearer(oversized),
      refusedBeforeCrypto: true,
    },
    {
      name: 'an oversized garbage token (1 MiB)',
      authorization: bearer('A'.repeat(1024 * 1024)),
      refusedBeforeCrypto: true,
    },
    { name: 'the garbage token "garbage"', authorization: bearer('garbage') },
    { name: 'the garbage token "a.b.c"', authorization: bearer('a.b.c') },
    { name: 'the garbage token ".."', authorization: bearer('..') },
    { name: 'a five-part (JWE-shaped) token', authorization: bearer(`${valid}.${validSignature}.${validSignature}`) },
    { name: 'a valid token with a byte appended to its signature', authorization: bearer(`${valid}A`) },
    { name: 'a token with Latin-1 bytes', authorization: bearer('tök\u00e9n.\u00ff\u00fe.\u00e9') },
    { name: 'no Authorization header', authorization: [] },
    { name: 'an empty Authorization header', authorization: [''] },
    { name: 'an empty bearer ("Bearer")', authorization: ['Bearer'] },
    { name: 'an empty bearer ("Bearer" and spaces)', authorization: ['Bearer    '] },
    { name: 'the Basic scheme with the right password', authorization: [`Basic ${btoa('alice:alice-password')}`] },
    { name: 'the Token scheme with a valid token', authorization: [`Token ${valid}`] },
    { name: 'a colon after Bearer', authorization: [`Bearer:${valid}`] },
    { name: 'a valid token without a scheme', authorization: [valid] },
    { name: 'two tokens in one header', authorization: [`Bearer ${valid} ${valid}`] },
    { name: 'two bearer credentials in one header', authorization: [`Bearer ${valid}, Bearer ${valid}`] },
    { name: 'two Authorization headers', authorization: [`Bearer ${valid}`, `Bearer ${valid}`] },
  ];
}

const ROUTES: readonly { readonly name: string; readonly init: RequestInit & { path: string } }[] = [
  { name: 'GET /tasks/:id', init: { path: TASK_PATH, method: 'GET' } },
  {
    name: 'POST /tasks',
    init: { path: '/tasks', method: 'POST', body: JSON.stringify({ name: 'add', args: [1, 2] }) },
  },
];

// Built at collection so that each attack is its own named test; tokens live an hour, ample here.
const attacks = await buildAttacks();
let harness: TestApp;
let tried = 0;
let accepted = 0;

beforeAll(() => {
  harness = createTestApp();
});

afterAll(() => {
  console.log(
    `jwt attacks: ${tried} tried (${attacks.length} attacks x ${ROUTES.length} routes), ${accepted} accepted`,
  );
});

async function send(route: (typeof ROUTES)[number], authorization: readonly string[]): Promise<Response> {
  const { path, ...init } = route.init;
  const headers = new Headers(init.method === 'POST' ? { 'content-type': 'application/json' } : {});
  for (const value of authorization) headers.append('authorization', value);
  return harness.app.request(path, { ...init, headers });
}

describe('JWT attacks', () => {
  it('the harness accepts a valid token on both routes (so refusals below mean something)', async () => {
    const authorization = [await harness.bearer()];
    expect((await send(ROUTES[0]!, authorization)).status).toBe(404); // authenticated: no such task
    const submitted = await send(ROUTES[1]!, authorization);
    expect(submitted.status).toBe(200);
    harness.store.tasks.clear();
    harness.queue.sent.length = 0;
  });

  it.each(attacks.map((attack) => [attack.name, attack] as const))(
    'refuses %s with 401 on both routes',
    async (_name, attack) => {
      const verify = vi.spyOn(harness.tokens, 'verify');
      try {
        for (const route of ROUTES) {
          tried += 1;
          const response = await send(route, attack.authorization);
          const challenge = response.headers.get('www-authenticate') ?? '';
          const problems = await errorShapeProblems(response.clone());
          const code =
            response.status === 401 ? ((await response.json()) as { error: { code: string } }).error.code : undefined;
          const refused =
            response.status === 401 &&
            challenge.startsWith('Bearer realm="doozer"') &&
            problems.length === 0 &&
            code === 'unauthorized';
          if (!refused) accepted += 1;
          expect({ attack: attack.name, route: route.name, status: response.status, challenge, problems }).toEqual({
            attack: attack.name,
            route: route.name,
            status: 401,
            challenge: expect.stringMatching(/^Bearer realm="doozer"/),
            problems: [],
          });
          expect(code).toBe('unauthorized');
        }
        if (attack.refusedBeforeCrypto) expect(verify).not.toHaveBeenCalled();
      } finally {
        verify.mockRestore();
      }
    },
  );

  it('stored and queued nothing for any attack', () => {
    expect(harness.store.tasks.size).toBe(0);
    expect(harness.queue.sent).toEqual([]);
  });

  it('names the problem for a refused token with error="invalid_token", and not for a missing one', async () => {
    const bad = await send(ROUTES[0]!, ['Bearer garbage']);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer realm="doozer", error="invalid_token"');
    const missing = await send(ROUTES[0]!, []);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="doozer"');
  });

  it('refuses a token over 4096 characters before any crypto, and accepts a valid one just under', async () => {
    const padded = async (length: number) => {
      const base = await sign(claims({ pad: '' }));
      // Each 3 bytes of claims become 4 base64url characters.
      const token = await sign(claims({ pad: 'x'.repeat(Math.floor(((length - base.length) * 3) / 4)) }));
      return token;
    };
    const under = await padded(4090);
    const over = await padded(4200);
    expect(under.length).toBeLessThanOrEqual(4096);
    expect(over.length).toBeGreaterThan(4096);
    const verify = vi.spyOn(harness.tokens, 'verify');
    try {
      expect((await send(ROUTES[0]!, [`Bearer ${under}`])).status).toBe(404);
      expect(verify).toHaveBeenCalledTimes(1);
      const refused = await send(ROUTES[0]!, [`Bearer ${over}`]);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
    }
  });

  it('refuses a correctly signed token whose iat is in the future (maxTokenAge makes jose check it)', async () => {
    const token = await sign(claims({ iat: nowSeconds() + 86_400 }));
    expect((await send(ROUTES[0]!, [`Bearer ${token}`])).status).toBe(401);
  });

  it('refuses a correctly signed token older than the token lifetime, whatever its exp says', async () => {
    const token = await sign(claims({ iat: nowSeconds() - 7_200, exp: nowSeconds() + 3_600 }));
    expect((await send(ROUTES[0]!, [`Bearer ${token}`])).status).toBe(401);
  });

  it('still serves valid requests after the attacks', async () => {
    await expectStillServing(harness);
  });
});
