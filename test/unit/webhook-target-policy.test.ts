import { describe, expect, it } from 'vitest';
import {
  checkCallbackUrl,
  refusedAddress,
  type Resolve,
  resolveTarget,
  type TargetPolicy,
  WebhookTargetRefusedError,
} from '../../lib/webhooks/target-policy.ts';

const DEPLOYED: TargetPolicy = { allowLoopback: false };
const LOCAL: TargetPolicy = { allowLoopback: true };

/** A resolver that knows only the names it is given; any other name is a test bug, not a DNS query. */
function stubResolve(names: Record<string, readonly string[]>): Resolve {
  return async (hostname) => {
    const addresses = names[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

const resolve = stubResolve({
  'hooks.example.com': ['93.184.215.14'],
  'v6.example.com': ['2606:4700::1'],
  'internal.example.com': ['10.1.2.3'],
  'half.example.com': ['93.184.215.14', '192.168.1.10'],
  'metadata.example.com': ['169.254.169.254'],
  'mapped.example.com': ['::ffff:127.0.0.1'],
  'nat64-private.example.com': ['64:ff9b::a00:5'],
  'nat64-public.example.com': ['64:ff9b::5db8:d70e'],
  'nothing.example.com': [],
});

async function refusal(url: string, policy: TargetPolicy): Promise<WebhookTargetRefusedError> {
  const error = await resolveTarget(new URL(url), policy, resolve).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(WebhookTargetRefusedError);
  return error as WebhookTargetRefusedError;
}

describe('outside the local stage', () => {
  it('refuses plain http at submission', () => {
    expect(checkCallbackUrl('http://hooks.example.com/done', DEPLOYED)).toEqual({
      ok: false,
      reason: 'callbackUrl must use https (got http:)',
    });
  });

  it.each([
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['[::1]', 'loopback'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['[fd00:ec2::254]', 'metadata'],
    ['[fc00::1]', 'unique-local'],
    ['[fe80::1]', 'link-local'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['[::ffff:10.0.0.1]', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['[::]', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.10', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['[64:ff9b::a00:5]', 'private'],
    ['[2002:a00:1::1]', 'private'],
    ['[2001::1]', 'Teredo'],
    ['[::7f00:1]', 'IPv4-compatible'],
  ])('refuses a literal %s (%s) at submission and when sending', async (host, kind) => {
    const url = `https://${host}/hook`;
    const checked = checkCallbackUrl(url, DEPLOYED);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.reason).toContain(kind);
    expect((await refusal(url, DEPLOYED)).message).toContain(kind);
  });

  it('names the address and the rule in the reason', () => {
    expect(checkCallbackUrl('https://10.0.0.5/hook', DEPLOYED)).toEqual({
      ok: false,
      reason: 'callbackUrl points at a private address: 10.0.0.5; webhooks go to public addresses only',
    });
  });

  it('judges an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(refusedAddress('::ffff:127.0.0.1', DEPLOYED)).toContain('loopback');
    expect(refusedAddress('::ffff:93.184.215.14', DEPLOYED)).toBeUndefined();
  });

  it('judges a NAT64 address by the IPv4 address it carries', async () => {
    expect((await refusal('https://nat64-private.example.com/', DEPLOYED)).message).toContain('10.0.0.5');
    await expect(resolveTarget(new URL('https://nat64-public.example.com/'), DEPLOYED, resolve)).resolves.toHaveLength(1);
  });

  it('refuses localhost and its subdomains at submission and when sending', async () => {
    for (const url of ['https://localhost/hook', 'https://api.localhost:8443/', 'https://LOCALHOST./x']) {
      const checked = checkCallbackUrl(url, DEPLOYED);
      expect(!checked.ok && checked.reason).toContain('loopback');
      expect((await refusal(url, DEPLOYED)).message).toContain('loopback');
    }
  });

  it('refuses a name that resolves to a private address', async () => {
    expect(checkCallbackUrl('https://internal.example.com/hook', DEPLOYED).ok).toBe(true); // Names are resolved when sending.
    expect((await refusal('https://internal.example.com/hook', DEPLOYED)).message).toBe(
      'internal.example.com resolves to a private address (10.1.2.3); webhooks go to public addresses only',
    );
  });

  it('refuses a name when any one of its addresses is refused', async () => {
    expect((await refusal('https://half.example.com/hook', DEPLOYED)).message).toContain('192.168.1.10');
  });

  it('refuses names resolving to the metadata service, to a mapped loopback, or to nothing', async () => {
    expect((await refusal('https://metadata.example.com/', DEPLOYED)).message).toContain('cloud metadata');
    expect((await refusal('https://mapped.example.com/', DEPLOYED)).message).toContain('loopback');
    expect((await refusal('https://nothing.example.com/', DEPLOYED)).message).toBe('nothing.example.com resolves to no address');
  });

  it('passes a failed resolution on as it is, since it may pass', async () => {
    await expect(resolveTarget(new URL('https://unknown.example.com/'), DEPLOYED, resolve)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('allows https to names resolving to public addresses, and returns those addresses', async () => {
    expect(checkCallbackUrl('https://hooks.example.com/done?x=1', DEPLOYED)).toMatchObject({ ok: true });
    await expect(resolveTarget(new URL('https://hooks.example.com/done'), DEPLOYED, resolve)).resolves.toEqual([
      { address: '93.184.215.14', family: 4 },
    ]);
    await expect(resolveTarget(new URL('https://v6.example.com/done'), DEPLOYED, resolve)).resolves.toEqual([
      { address: '2606:4700::1', family: 6 },
    ]);
  });

  it('allows https to a public literal address, without asking the resolver', async () => {
    const never: Resolve = () => Promise.reject(new Error('a literal address needs no resolver'));
    expect(checkCallbackUrl('https://93.184.215.14/x', DEPLOYED).ok).toBe(true);
    await expect(resolveTarget(new URL('https://[2606:4700::1]:8443/x'), DEPLOYED, never)).resolves.toEqual([
      { address: '2606:4700::1', family: 6 },
    ]);
  });
});

describe('on the local stage', () => {
  it('allows http and https to loopback', async () => {
    for (const url of ['http://127.0.0.1:3005/x', 'http://localhost', 'https://[::1]:8443/', 'http://hooks.localhost:3005/']) {
      expect(checkCallbackUrl(url, LOCAL)).toMatchObject({ ok: true });
    }
    await expect(resolveTarget(new URL('http://127.0.0.1:3005/x'), LOCAL, resolve)).resolves.toEqual([{ address: '127.0.0.1', family: 4 }]);
    const localhost = await resolveTarget(new URL('http://localhost'), LOCAL, resolve);
    expect(localhost.map(({ address }) => address)).toEqual(['127.0.0.1', '::1']);
  });

  it('still allows public addresses', async () => {
    expect(checkCallbackUrl('http://hooks.example.com/', LOCAL).ok).toBe(true);
    await expect(resolveTarget(new URL('http://hooks.example.com/'), LOCAL, resolve)).resolves.toHaveLength(1);
  });

  it.each(['10.0.0.1', '169.254.169.254', '[fd00:ec2::254]', '0.0.0.0'])('still refuses %s', async (host) => {
    expect(checkCallbackUrl(`http://${host}/x`, LOCAL).ok).toBe(false);
    await refusal(`http://${host}/x`, LOCAL);
  });

  it('still refuses names resolving to private addresses', async () => {
    await refusal('http://internal.example.com/x', LOCAL);
  });
});

describe('checkCallbackUrl', () => {
  it.each([
    ['credentials', 'https://user:secret@hooks.example.com/', 'username or password'],
    ['a user name alone', 'https://user@hooks.example.com/', 'username or password'],
    ['a fragment', 'https://hooks.example.com/x#part', 'fragment'],
    ['an empty fragment', 'https://hooks.example.com/x#', 'fragment'],
    ['ftp', 'ftp://hooks.example.com/x', 'must use https (got ftp:)'],
    ['javascript', 'javascript:alert(1)', 'must use https (got javascript:)'],
    ['a scheme without //', 'https:/hooks.example.com/x', 'absolute URL'],
    ['http: and a host with no //', 'http:x', 'absolute URL'],
    ['a relative URL', '/webhooks', 'absolute URL'],
    ['a URL with no scheme', 'hooks.example.com/webhooks', 'absolute URL'],
    ['an empty string', '', 'absolute URL'],
    ['a newline', 'https://hooks.example.com/a\nb', 'control characters'],
    ['a space', ' https://hooks.example.com/', 'spaces'],
  ])('refuses %s', (_name, raw, reason) => {
    const checked = checkCallbackUrl(raw, DEPLOYED);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.reason).toContain(reason);
  });

  it('refuses URLs longer than 2048 characters and takes one of exactly 2048', () => {
    const base = 'https://hooks.example.com/';
    const at = (length: number) => base + 'a'.repeat(length - base.length);
    expect(checkCallbackUrl(at(2048), DEPLOYED).ok).toBe(true);
    expect(checkCallbackUrl(at(2049), DEPLOYED)).toEqual({
      ok: false,
      reason: 'callbackUrl is longer than 2048 characters (got 2049)',
    });
  });

  it('names the schemes the local stage takes', () => {
    expect(checkCallbackUrl('ftp://127.0.0.1/', LOCAL)).toEqual({ ok: false, reason: 'callbackUrl must use http or https (got ftp:)' });
  });

  it('judges an IPv4 host however it is written, as the URL parser reads it', () => {
    for (const host of ['0x7f.1', '2130706433', '0177.0.0.1']) {
      const checked = checkCallbackUrl(`https://${host}/`, DEPLOYED);
      expect(!checked.ok && checked.reason).toContain('loopback address: 127.0.0.1');
    }
  });
});

describe('refusedAddress', () => {
  it('gives undefined for public addresses and a reason for the others', () => {
    expect(refusedAddress('93.184.215.14', DEPLOYED)).toBeUndefined();
    expect(refusedAddress('2606:4700::1', DEPLOYED)).toBeUndefined();
    expect(refusedAddress('127.0.0.1', LOCAL)).toBeUndefined();
    expect(refusedAddress('127.0.0.1', DEPLOYED)).toBe('127.0.0.1 is a loopback address; webhooks go to public addresses only');
    expect(refusedAddress('fe80::1%eth0', DEPLOYED)).toContain('link-local');
  });

  it('refuses what is not an IP address in canonical form', () => {
    expect(refusedAddress('hooks.example.com', DEPLOYED)).toContain('not an IP address');
    expect(refusedAddress('0x7f.1', LOCAL)).toContain('not an IP address');
  });
});
