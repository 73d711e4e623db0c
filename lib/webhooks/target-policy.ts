/**
 * Where completion webhooks may be sent. A callbackUrl is whatever a user typed, and the notifier
 * POSTs to it from inside our network, so without this check a user could make it call the cloud
 * metadata service (169.254.169.254, fd00:ec2::254), a private service, or the notifier's own host
 * (server-side request forgery). The URL is checked when the task is submitted, for a clear 400, and
 * every address the notifier connects to is checked again after DNS resolution, since a name can
 * resolve to anything, and to something else a second later.
 *
 * The address rule is an allow-list: only what ipaddr.js calls `unicast` (no special-purpose range)
 * is a public address; every range it names is refused, so a range we did not think of is refused too.
 * IPv6 forms that carry an IPv4 address at a fixed place (IPv4-mapped, NAT64, 6to4) are judged as
 * that IPv4 address, since that is where a connection to them ends up.
 */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

export interface TargetPolicy {
  /**
   * The local stage only: webhooks may go to this machine (127.0.0.0/8, ::1, `localhost`) and over
   * plain `http:`, so `npm run webhook-receiver` can take them. Public addresses stay allowed;
   * every other address is refused as anywhere else.
   */
  readonly allowLoopback: boolean;
}

/** The longest callbackUrl taken: what browsers and most servers take, and plenty for a webhook endpoint. */
export const MAX_CALLBACK_URL_LENGTH = 2048;

export type CallbackUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** The notifier met an address the policy refuses: never retried, the next attempt would meet it too. */
export class WebhookTargetRefusedError extends Error {
  override readonly name = 'WebhookTargetRefusedError';
}

/** Resolves a host name to every address it has, as `dns.lookup` with `all` gives them. */
export type Resolve = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/**
 * The system resolver (getaddrinfo, as `fetch` and `http.request` use by default), so the addresses
 * checked are those a connection would use. `verbatim` keeps the resolver's order instead of
 * putting IPv4 first: the check covers all of them either way.
 */
export const systemResolve: Resolve = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * The syntactic check of a callbackUrl, when a task is submitted: an absolute http(s) URL with a
 * host, no credentials, no fragment, and, when the host is an IP address or `localhost`, an address
 * the policy allows. Names are only resolved when a webhook is sent (see {@link resolveTarget}).
 */
export function checkCallbackUrl(raw: string, policy: TargetPolicy): CallbackUrlCheck {
  const refuse = (reason: string): CallbackUrlCheck => ({ ok: false, reason });
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    return refuse(`callbackUrl is longer than ${MAX_CALLBACK_URL_LENGTH} characters (got ${raw.length})`);
  }
  // The URL parser drops tabs and newlines and trims spaces; what was stored would not be what is called.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return refuse('callbackUrl must not contain spaces or control characters');
  // The URL parser reads `http:/x` and `http:x` as `http://x/`: only what says `//` is taken.
  if (/^https?:(?!\/\/)/i.test(raw)) return refuse('callbackUrl must be an absolute URL, such as https://example.com/webhooks');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('callbackUrl must be an absolute URL, such as https://example.com/webhooks');
  }
  if (url.protocol !== 'https:' && !(policy.allowLoopback && url.protocol === 'http:')) {
    return refuse(`callbackUrl must use ${policy.allowLoopback ? 'http or https' : 'https'} (got ${url.protocol})`);
  }
  // Credentials would be stored with the task and shown in it; the receiver checks the signature instead.
  if (url.username !== '' || url.password !== '') {
    return refuse('callbackUrl must not contain a username or password; receivers check the webhook signature instead');
  }
  // An empty fragment (`…/#`) leaves `hash` empty but is still in the URL.
  if (url.hash !== '' || url.href.endsWith('#')) return refuse('callbackUrl must not have a fragment (#…)');
  if (url.hostname === '') return refuse('callbackUrl has no host');

  const host = hostOf(url);
  if (isIP(host) !== 0) {
    const refusal = refusalOf(host, policy);
    if (refusal) return refuse(`callbackUrl points at ${refusal.what}: ${detailOf(refusal)}; ${allowedTargets(policy)}`);
  } else if (isLocalhostName(host) && !policy.allowLoopback) {
    return refuse(`callbackUrl points at a loopback address (${host}); ${allowedTargets(policy)}`);
  }
  return { ok: true, url };
}

/** Why `address` (an IP address) may not be a webhook's target, or undefined when it may. */
export function refusedAddress(address: string, policy: TargetPolicy): string | undefined {
  const refusal = refusalOf(address, policy);
  if (!refusal) return undefined;
  const embedded = refusal.embedded === undefined ? '' : ` (it embeds ${refusal.embedded})`;
  return `${refusal.address} is ${refusal.what}${embedded}${refusal.what === NOT_AN_ADDRESS ? '' : `; ${allowedTargets(policy)}`}`;
}

/**
 * The addresses to connect to for `url`: its IP address, or every address its host resolves to.
 * Refuses the whole target when any one of them is refused, as a connection may use any of them.
 *
 * @throws WebhookTargetRefusedError when an address is refused or the name resolves to none;
 * a failed resolution (ENOTFOUND, EAI_AGAIN) is thrown as the resolver threw it, as it may pass.
 */
export async function resolveTarget(
  url: URL,
  policy: TargetPolicy,
  resolve: Resolve = systemResolve,
): Promise<readonly { address: string; family: number }[]> {
  return resolveHostname(hostOf(url), policy, resolve);
}

/**
 * {@link resolveTarget} for a bare host name or IP address (no brackets), as `net.connect` hands it
 * to its `lookup` option: the sender checks the very addresses its socket is given with it.
 */
export async function resolveHostname(
  hostname: string,
  policy: TargetPolicy,
  resolve: Resolve = systemResolve,
): Promise<readonly { address: string; family: number }[]> {
  const family = isIP(hostname);
  if (family !== 0) {
    const refusal = refusedAddress(hostname, policy);
    if (refusal) throw new WebhookTargetRefusedError(refusal);
    return [{ address: hostname, family }];
  }
  // RFC 6761 lets applications answer `localhost` themselves; no resolver (or hosts file) is asked.
  if (isLocalhostName(hostname)) {
    if (!policy.allowLoopback) {
      throw new WebhookTargetRefusedError(`${hostname} is a loopback address; ${allowedTargets(policy)}`);
    }
    return LOOPBACK_ADDRESSES;
  }
  const addresses = await resolve(hostname);
  if (addresses.length === 0) throw new WebhookTargetRefusedError(`${hostname} resolves to no address`);
  for (const { address } of addresses) {
    const refusal = refusalOf(address, policy);
    if (refusal) {
      throw new WebhookTargetRefusedError(`${hostname} resolves to ${refusal.what} (${detailOf(refusal)}); ${allowedTargets(policy)}`);
    }
  }
  return addresses;
}

/** IPv4 first: local receivers (`npm run webhook-receiver`) listen on 127.0.0.1. */
const LOOPBACK_ADDRESSES: readonly { address: string; family: number }[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/** The URL's host as a resolver or `net.connect` takes it: an IPv6 address without its brackets. */
function hostOf(url: URL): string {
  const { hostname } = url;
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

function allowedTargets(policy: TargetPolicy): string {
  return policy.allowLoopback ? 'webhooks go to public or loopback addresses only' : 'webhooks go to public addresses only';
}

interface Refusal {
  /** What kind of address it is, as a phrase: "a private address". */
  readonly what: string;
  readonly address: string;
  /** The IPv4 address it was judged as, when it is an IPv6 address that embeds one. */
  readonly embedded?: string;
}

const NOT_AN_ADDRESS = 'not an IP address';

function detailOf(refusal: Refusal): string {
  return refusal.embedded === undefined ? refusal.address : `${refusal.address}, which embeds ${refusal.embedded}`;
}

/** The cloud metadata services' addresses (AWS, and most others at the IPv4 one). */
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254']);

/** ipaddr.js's range names, as the reasons say them; a range missing here is named by its ipaddr.js name. */
const RANGE_PHRASES: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address',
  uniqueLocal: 'a unique-local address',
  reserved: 'a reserved address',
  benchmarking: 'a benchmarking address',
  deprecatedSiteLocal: 'a site-local address',
  teredo: 'a Teredo tunnel address',
  // What is left of rfc6052 once the well-known /96 is read: the local-use NAT64 prefix, whose layout only its network knows.
  rfc6052: 'a local-use NAT64 address',
};

function refusalOf(address: string, policy: TargetPolicy): Refusal | undefined {
  // node:net, not ipaddr.js, decides what an address is: ipaddr.js also reads `0x7f.1` and `2130706433`.
  if (isIP(address) === 0) return { what: NOT_AN_ADDRESS, address: JSON.stringify(address) };
  const ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv4') return refusalOfIp(ip, address, policy);
  const v6 = ip as ipaddr.IPv6;
  const embedded = embeddedIPv4(v6);
  if (embedded) {
    const refusal = refusalOfIp(embedded, address, policy);
    return refusal && { ...refusal, embedded: embedded.toString() };
  }
  if (v6.range() === 'unicast' && isIPv4Compatible(v6)) return { what: 'a deprecated IPv4-compatible IPv6 address', address };
  return refusalOfIp(v6, address, policy);
}

function refusalOfIp(ip: ipaddr.IPv4 | ipaddr.IPv6, address: string, policy: TargetPolicy): Refusal | undefined {
  const range: string = ip.range();
  if (range === 'unicast' || (range === 'loopback' && policy.allowLoopback)) return undefined;
  if (METADATA_ADDRESSES.has(ip.toString())) return { what: 'the cloud metadata service', address };
  return { what: RANGE_PHRASES[range] ?? `a special-purpose address (${range})`, address };
}

/**
 * The IPv4 address inside an IPv6 address that stands for it, where the layout is fixed: IPv4-mapped
 * (::ffff:a.b.c.d, which a dual-stack socket connects to over IPv4), IPv4-translated (RFC 6145),
 * the well-known NAT64 prefix 64:ff9b::/96 (an AWS NAT gateway translates it, so 64:ff9b::a00:5 reaches
 * 10.0.0.5) and 6to4 (2002:AABB:CCDD::). These are judged as the IPv4 address; so a public address
 * reached through DNS64 from an IPv6-only subnet is allowed.
 */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const bytes = ip.toByteArray();
  switch (ip.range() as string) {
    case 'ipv4Mapped':
      return ip.toIPv4Address();
    case 'rfc6145':
      return new ipaddr.IPv4(bytes.slice(12, 16));
    case 'rfc6052':
      return ip.match(NAT64_WELL_KNOWN) ? new ipaddr.IPv4(bytes.slice(12, 16)) : undefined;
    case '6to4':
      return new ipaddr.IPv4(bytes.slice(2, 6));
    default:
      return undefined;
  }
}

const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/** ::a.b.c.d (RFC 4291, deprecated): ipaddr.js calls it unicast, but it stands for an IPv4 address no check here would see. */
function isIPv4Compatible(ip: ipaddr.IPv6): boolean {
  return ip.parts.slice(0, 6).every((part) => part === 0);
}
