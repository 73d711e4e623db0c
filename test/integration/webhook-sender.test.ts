/**
 * The webhook sender over real sockets, against node:http servers on 127.0.0.1 whose answer each
 * test sets. Names are resolved by stubs, never by DNS: nothing leaves the machine.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpWebhookSender } from '../../lib/webhooks/http-sender.ts';
import type { Resolve } from '../../lib/webhooks/target-policy.ts';

const LOCAL = { allowLoopback: true } as const;
const DEPLOYED = { allowLoopback: false } as const;
const BODY = JSON.stringify({ id: 'task_0f8fad5b-d9cb-469f-a165-70867728950e', state: 'SUCCESS', result: 3 });
const SIGNED = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1767225600', 'webhook-signature': 'v1,abc=' };

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A server on 127.0.0.1 that records each request, and each connection, before `answer` sees it. */
class TestServer {
  readonly requests: Seen[] = [];
  connections = 0;
  readonly #server: Server;

  constructor(answer: RequestListener) {
    this.#server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
      this.requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      answer(request, response);
    });
    this.#server.on('connection', () => this.connections++);
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return this;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  url(path = '/webhooks'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async close(): Promise<void> {
    const closed = once(this.#server, 'close');
    this.#server.close();
    this.#server.closeAllConnections();
    await closed;
  }
}

/** Maps names to addresses, and counts what it was asked, as the sender's resolver. */
function stubResolve(names: Record<string, readonly string[]>): Resolve & { readonly asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    const addresses = names[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

const servers: TestServer[] = [];
async function serve(answer: RequestListener): Promise<TestServer> {
  const server = await new TestServer(answer).start();
  servers.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('HttpWebhookSender', () => {
  let ok: TestServer;
  let failing: TestServer;
  let silent: TestServer;
  let redirecting: TestServer;
  let redirectTarget: TestServer;

  beforeAll(async () => {
    ok = await serve((_request, response) => response.writeHead(200).end('thanks'));
    failing = await serve((_request, response) => response.writeHead(500).end('oops'));
    silent = await serve(() => {}); // Reads the request, never answers.
    redirectTarget = await serve((_request, response) => response.writeHead(200).end());
    redirecting = await serve((_request, response) => response.writeHead(302, { location: redirectTarget.url() }).end());
  });

  it('POSTs the body with its headers and answers the status', async () => {
    const sender = new HttpWebhookSender({ policy: LOCAL });
    await expect(sender.send({ url: ok.url(), headers: SIGNED, body: BODY })).resolves.toEqual({ kind: 'response', status: 200 });
    const seen = ok.requests.at(-1);
    expect(seen).toMatchObject({ method: 'POST', url: '/webhooks', body: BODY });
    expect(seen?.headers).toMatchObject({
      ...SIGNED,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(BODY)),
      'user-agent': 'doozer-webhooks/1',
    });
  });

  it('answers a 500 as a response', async () => {
    const sender = new HttpWebhookSender({ policy: LOCAL, userAgent: 'doozer-test/0' });
    await expect(sender.send({ url: failing.url(), headers: SIGNED, body: BODY })).resolves.toEqual({ kind: 'response', status: 500 });
    expect(failing.requests[0]?.headers['user-agent']).toBe('doozer-test/0');
  });

  it('gives up on a receiver that never answers after timeoutMs', async () => {
    const sender = new HttpWebhookSender({ policy: LOCAL, timeoutMs: 300 });
    const started = Date.now();
    await expect(sender.send({ url: silent.url(), headers: SIGNED, body: BODY })).resolves.toEqual({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('bounds the body too: a response that starts but never ends is a timeout', async () => {
    const trickle = await serve((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('x');
    });
    const sender = new HttpWebhookSender({ policy: LOCAL, timeoutMs: 300 });
    await expect(sender.send({ url: trickle.url(), headers: SIGNED, body: BODY })).resolves.toEqual({ kind: 'timeout' });
  });

  it('reads at most 64 KiB of a body and answers its status without waiting for the rest', async () => {
    const flood = await serve((_request, response) => {
      response.writeHead(201);
      response.write(Buffer.alloc(256 * 1024, 'x')); // And never ends.
    });
    const sender = new HttpWebhookSender({ policy: LOCAL, timeoutMs: 5_000 });
    await expect(sender.send({ url: flood.url(), headers: SIGNED, body: BODY })).resolves.toEqual({ kind: 'response', status: 201 });
  });

  it('reports a refused connection as a network failure', async () => {
    const closed = await new TestServer(() => {}).start();
    const url = closed.url();
    await closed.close();
    const sender = new HttpWebhookSender({ policy: LOCAL });
    const result = await sender.send({ url, headers: SIGNED, body: BODY });
    expect(result).toMatchObject({ kind: 'network', message: expect.stringContaining('ECONNREFUSED') });
  });

  it('does not follow a redirect: the 302 is the answer', async () => {
    const sender = new HttpWebhookSender({ policy: LOCAL });
    await expect(sender.send({ url: redirecting.url(), headers: SIGNED, body: BODY })).resolves.toEqual({ kind: 'response', status: 302 });
    expect(redirectTarget.requests).toHaveLength(0);
  });

  describe('under the deployed policy', () => {
    it('refuses a loopback address before connecting', async () => {
      const before = ok.connections;
      const sender = new HttpWebhookSender({ policy: DEPLOYED });
      const result = await sender.send({ url: `https://127.0.0.1:${ok.port}/webhooks`, headers: SIGNED, body: BODY });
      expect(result).toMatchObject({ kind: 'refused', message: expect.stringContaining('loopback') });
      expect(ok.connections).toBe(before);
    });

    it('refuses plain http', async () => {
      const sender = new HttpWebhookSender({ policy: DEPLOYED });
      const result = await sender.send({ url: ok.url(), headers: SIGNED, body: BODY });
      expect(result).toEqual({ kind: 'refused', message: 'callbackUrl must use https (got http:)' });
    });

    it('refuses a name that resolves to loopback, at the connection, without connecting', async () => {
      const before = ok.connections;
      const resolve = stubResolve({ 'hooks.example.test': ['127.0.0.1'] });
      const sender = new HttpWebhookSender({ policy: DEPLOYED, resolve });
      const result = await sender.send({ url: `https://hooks.example.test:${ok.port}/webhooks`, headers: SIGNED, body: BODY });
      expect(result).toEqual({
        kind: 'refused',
        message: 'hooks.example.test resolves to a loopback address (127.0.0.1); webhooks go to public addresses only',
      });
      expect(resolve.asked).toEqual(['hooks.example.test']);
      expect(ok.connections).toBe(before);
    });

    it('reports a name that does not resolve as a network failure, to be retried', async () => {
      const sender = new HttpWebhookSender({ policy: DEPLOYED, resolve: stubResolve({}) });
      const result = await sender.send({ url: 'https://gone.example.test/webhooks', headers: SIGNED, body: BODY });
      expect(result).toMatchObject({ kind: 'network', message: expect.stringContaining('ENOTFOUND') });
    });
  });

  describe('under the local policy', () => {
    it('delivers to a name resolving to loopback, with the URL host in the Host header', async () => {
      const resolve = stubResolve({ 'hooks.example.test': ['127.0.0.1'] });
      const sender = new HttpWebhookSender({ policy: LOCAL, resolve });
      const result = await sender.send({ url: `http://hooks.example.test:${ok.port}/webhooks`, headers: SIGNED, body: BODY });
      expect(result).toEqual({ kind: 'response', status: 200 });
      expect(ok.requests.at(-1)?.headers.host).toBe(`hooks.example.test:${ok.port}`);
      // Resolved once, by the connection itself: there is no second look-up a rebinding name could answer differently.
      expect(resolve.asked).toEqual(['hooks.example.test']);
    });

    it('refuses a name when any of its addresses is refused, and connects to none of them', async () => {
      const before = ok.connections;
      const resolve = stubResolve({ 'hooks.example.test': ['127.0.0.1', '10.0.0.1'] });
      const sender = new HttpWebhookSender({ policy: LOCAL, resolve });
      const result = await sender.send({ url: `http://hooks.example.test:${ok.port}/webhooks`, headers: SIGNED, body: BODY });
      expect(result).toMatchObject({ kind: 'refused', message: expect.stringContaining('10.0.0.1') });
      expect(ok.connections).toBe(before);
    });

    it('delivers to localhost without asking the resolver', async () => {
      const resolve = stubResolve({});
      const sender = new HttpWebhookSender({ policy: LOCAL, resolve });
      const result = await sender.send({ url: `http://localhost:${ok.port}/webhooks`, headers: SIGNED, body: BODY });
      expect(result).toEqual({ kind: 'response', status: 200 });
      expect(resolve.asked).toEqual([]);
    });

    it('still refuses the metadata address', async () => {
      const sender = new HttpWebhookSender({ policy: LOCAL });
      const result = await sender.send({ url: 'http://169.254.169.254/latest/meta-data/', headers: SIGNED, body: BODY });
      expect(result).toMatchObject({ kind: 'refused', message: expect.stringContaining('metadata') });
    });
  });

  it('names the URL host in TLS (SNI), not the address it connects to', async () => {
    const names: string[] = [];
    // No certificate at all: the handshake fails after the client has said which name it wants.
    const tls: TlsServer = createTlsServer({
      SNICallback: (servername, callback) => {
        names.push(servername);
        callback(new Error('no certificate here'), undefined);
      },
    });
    tls.on('tlsClientError', () => {});
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    try {
      const { port } = tls.address() as AddressInfo;
      const sender = new HttpWebhookSender({ policy: LOCAL, resolve: stubResolve({ 'hooks.example.test': ['127.0.0.1'] }) });
      const result = await sender.send({ url: `https://hooks.example.test:${port}/webhooks`, headers: SIGNED, body: BODY });
      expect(result.kind).toBe('network');
      expect(names).toEqual(['hooks.example.test']);
    } finally {
      tls.close();
    }
  });
});
