/**
 * The local gateway over real sockets: clients on 127.0.0.x, the gateway, and a real node:http
 * upstream standing in for serverless-offline, whose behaviour each test sets.
 */
import { once } from 'node:events';
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestListener,
  type RequestOptions,
  type Server,
  createServer,
  request as httpRequest,
} from 'node:http';
import { type AddressInfo, type Socket, connect, createServer as createTcpServer } from 'node:net';
import { finished } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { type Gateway, type GatewayOptions, startGateway } from '../../local/gateway.ts';
import { eventually } from '../support/eventually.ts';

const LOOPBACK = '127.0.0.1';
const TEN_MIB = 10 * 1024 * 1024;
const SETTLE = { timeoutMs: 5_000 } as const;

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What the echoing upstream saw. */
interface Echo {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly remoteAddress: string;
}

let upstream: Server;
let upstreamPort: number;
/** How the upstream answers: set per test, an echo of the request by default. */
let handleUpstream: RequestListener;
let upstreamRequests: number;
let gateway: Gateway;
const extraGateways: Gateway[] = [];

const echo: RequestListener = async (request, response) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const seen: Echo = {
    method: request.method!,
    url: request.url!,
    headers: request.headers,
    body: Buffer.concat(chunks).toString(),
    remoteAddress: request.socket.remoteAddress!,
  };
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
};

beforeAll(async () => {
  upstream = createServer((request, response) => {
    upstreamRequests += 1;
    handleUpstream(request, response);
  });
  await new Promise<void>((resolve) => upstream.listen(0, LOOPBACK, resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  gateway = await startGateway({ port: 0, upstreamPort });
});

beforeEach(() => {
  handleUpstream = echo;
  upstreamRequests = 0;
});

afterEach(async () => {
  await Promise.all(extraGateways.splice(0).map((extra) => extra.close()));
});

afterAll(async () => {
  await gateway?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

async function startExtraGateway(options: Partial<GatewayOptions>): Promise<Gateway> {
  const extra = await startGateway({ port: 0, upstreamPort, ...options });
  extraGateways.push(extra);
  return extra;
}

/** One request on its own connection; `body` parts are written one by one (chunked). */
function send(url: string, { body, ...options }: RequestOptions & { body?: readonly string[] } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    for (const part of body ?? []) request.write(part);
    request.end();
  });
}

/** Writes `text` on a plain TCP connection and returns all the gateway sends before it closes. */
async function sendRaw(port: number, text: string): Promise<string> {
  const socket = connect(port, LOOPBACK);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(text);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString();
}

function expectErrorShape(reply: Pick<Reply, 'headers' | 'body'>, code: string): { code: string; message: string } {
  expect(reply.headers['content-type']).toBe('application/json');
  const parsed = JSON.parse(reply.body) as { error: { code: string; message: string } };
  expect(parsed).toEqual({ error: { code, message: expect.any(String) } });
  return parsed.error;
}

/** A loopback port where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createTcpServer().listen(0, LOOPBACK);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('listening', () => {
  it('serves on 127.0.0.1 only: another loopback address of this host is refused', async () => {
    expect(gateway.url).toBe(`http://${LOOPBACK}:${gateway.port}`);
    expect((await send(`${gateway.url}/health`)).status).toBe(200);

    const elsewhere = connect(gateway.port, '127.0.0.2');
    const outcome = await new Promise<string | undefined>((resolve) => {
      elsewhere.once('connect', () => resolve('connected'));
      elsewhere.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    elsewhere.destroy();
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('rejects at once with EADDRINUSE and names the port when it is taken', async () => {
    const blocker = createTcpServer().listen(0, LOOPBACK);
    await once(blocker, 'listening');
    const { port } = blocker.address() as AddressInfo;
    try {
      await expect(startGateway({ port, upstreamPort })).rejects.toMatchObject({
        code: 'EADDRINUSE',
        message: `port ${port} is already in use`,
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('forwarding', () => {
  it('forwards method, path, query, end-to-end headers and body, and drops hop-by-hop request headers', async () => {
    const reply = await send(`${gateway.url}/echo/a%20b?x=1&x=2&y=`, {
      method: 'PATCH',
      headers: {
        'x-kept': 'yes',
        'x-twice': ['a', 'b'],
        authorization: 'Bearer t0ken',
        'keep-alive': 'timeout=99',
        'proxy-authorization': 'Basic c2VjcmV0',
        te: 'trailers',
      },
      body: ['hello ', 'world'],
    });

    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as Echo;
    expect(seen).toMatchObject({ method: 'PATCH', url: '/echo/a%20b?x=1&x=2&y=', body: 'hello world' });
    expect(seen.headers).toMatchObject({ 'x-kept': 'yes', 'x-twice': 'a, b', authorization: 'Bearer t0ken' });
    expect(seen.headers).not.toHaveProperty('keep-alive');
    expect(seen.headers).not.toHaveProperty('proxy-authorization');
    expect(seen.headers).not.toHaveProperty('te');
  });

  it('forwards a chunked GET body intact, framed for the upstream', async () => {
    // Node's client only chunks a GET body when told to; the gateway must frame it the same way.
    const reply = await send(`${gateway.url}/search`, {
      method: 'GET',
      headers: { 'transfer-encoding': 'chunked' },
      body: ['{"q":', '"x"}'],
    });
    expect((JSON.parse(reply.body) as Echo).body).toBe('{"q":"x"}');
  });

  it('returns the upstream status, headers and body, without hop-by-hop response headers', async () => {
    handleUpstream = (_request, response) => {
      response.writeHead(201, 'Created', [
        ['content-type', 'text/plain'],
        ['x-upstream', 'yes'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        ['proxy-authenticate', 'Basic'],
        ['trailer', 'x-checksum'],
      ].flat());
      response.write('made ');
      response.addTrailers({ 'x-checksum': 'abc' });
      response.end('it');
    };

    const reply = await send(`${gateway.url}/things`, { method: 'POST', body: ['{}'] });

    expect(reply.status).toBe(201);
    expect(reply.body).toBe('made it');
    expect(reply.headers).toMatchObject({ 'content-type': 'text/plain', 'x-upstream': 'yes', 'set-cookie': ['a=1', 'b=2'] });
    expect(reply.headers).not.toHaveProperty('proxy-authenticate');
    expect(reply.headers).not.toHaveProperty('trailer');
  });

  it('keeps Origin from the upstream and removes every access-control-* response header, as the deployed API (CORS off) sends none', async () => {
    let upstreamOrigin: string | undefined = 'not seen';
    handleUpstream = (request, response) => {
      upstreamOrigin = request.headers.origin;
      // serverless-offline's echo of the caller's Origin.
      response.writeHead(200, {
        'content-type': 'application/json',
        'access-control-allow-origin': 'https://evil.example',
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'location',
        vary: 'origin',
      });
      response.end('{"status":"ok"}');
    };

    const reply = await send(`${gateway.url}/health`, { headers: { origin: 'https://evil.example' } });

    expect(reply.status).toBe(200);
    expect(reply.body).toBe('{"status":"ok"}');
    expect(reply.headers.vary).toBe('origin');
    expect(Object.keys(reply.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    expect(upstreamOrigin).toBeUndefined();
  });

  it('streams the request body to the upstream as it arrives', async () => {
    let firstChunkArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (firstChunkArrived = resolve));
    handleUpstream = async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) {
        chunks.push(chunk as Buffer);
        firstChunkArrived();
      }
      response.end(Buffer.concat(chunks));
    };

    const request = httpRequest(`${gateway.url}/upload`, { method: 'POST', agent: false });
    const responded = once(request, 'response') as Promise<[IncomingMessage]>;
    request.write('first,');
    await arrived; // The client has not ended its body yet.
    request.end('second');
    const [response] = await responded;
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('first,second');
  });

  it('streams the response body to the client before the upstream has ended it', async () => {
    let endResponse!: () => void;
    handleUpstream = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('first,');
      endResponse = () => response.end('second');
    };

    const request = httpRequest(`${gateway.url}/download`, { agent: false });
    request.end();
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    const [firstChunk] = (await once(response, 'data')) as [Buffer];
    expect(firstChunk.toString()).toBe('first,');
    const rest: Buffer[] = [];
    response.on('data', (chunk: Buffer) => rest.push(chunk));
    endResponse();
    await finished(response);
    expect(Buffer.concat(rest).toString()).toBe('second');
  });
});

describe('request body limit', () => {
  it('answers 413 payload_too_large for a Content-Length above 10 MiB without forwarding it', async () => {
    const request = httpRequest(`${gateway.url}/tasks`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': TEN_MIB + 1 },
    });
    request.flushHeaders(); // The body is never sent: the answer must not wait for it.
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    request.destroy();

    expect(response.statusCode).toBe(413);
    const error = expectErrorShape({ headers: response.headers, body: Buffer.concat(chunks).toString() }, 'payload_too_large');
    expect(error.message).toContain(String(TEN_MIB));
    expect(upstreamRequests).toBe(0);
  });

  it('refuses an oversized body announced with Expect: 100-continue before it is sent', async () => {
    const request = httpRequest(`${gateway.url}/tasks`, {
      method: 'POST',
      agent: false,
      headers: { 'content-length': TEN_MIB + 1, expect: '100-continue' },
    });
    let continued = false;
    request.on('continue', () => (continued = true));
    request.flushHeaders();
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    request.destroy();

    expect(response.statusCode).toBe(413);
    expect(response.headers.connection).toBe('close');
    expectErrorShape({ headers: response.headers, body: Buffer.concat(chunks).toString() }, 'payload_too_large');
    expect(continued).toBe(false);
    expect(upstreamRequests).toBe(0);
  });

  it('forwards a chunked body of exactly the limit', async () => {
    const small = await startExtraGateway({ maxBodyBytes: 1024 });
    const reply = await send(`${small.url}/tasks`, { method: 'POST', body: ['a'.repeat(512), 'b'.repeat(512)] });
    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.body) as Echo).body).toHaveLength(1024);
  });

  it('cuts off a chunked body that grows past the limit and answers 413 payload_too_large', async () => {
    const small = await startExtraGateway({ maxBodyBytes: 1024 });
    let upstreamState: 'receiving' | 'complete' | 'aborted' | undefined;
    handleUpstream = (request) => {
      upstreamState = 'receiving';
      request.on('data', () => {});
      request.on('end', () => (upstreamState = 'complete'));
      request.on('close', () => {
        if (!request.complete) upstreamState = 'aborted';
      });
    };

    const request = httpRequest(`${small.url}/tasks`, { method: 'POST', agent: false });
    const responded = once(request, 'response') as Promise<[IncomingMessage]>;
    request.write('a'.repeat(600));
    await eventually(() => expect(upstreamState).toBe('receiving'), SETTLE);
    request.write('b'.repeat(600)); // The body is never ended.
    const [response] = await responded;
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    request.destroy();

    expect(response.statusCode).toBe(413);
    expect(response.headers.connection).toBe('close');
    const error = expectErrorShape({ headers: response.headers, body: Buffer.concat(chunks).toString() }, 'payload_too_large');
    expect(error.message).toContain('1024');
    await eventually(() => expect(upstreamState).toBe('aborted'), SETTLE);
  });
});

describe('requests the HTTP parser refuses', () => {
  it('answers 431 invalid_request in our shape when the headers are too large', async () => {
    const raw = await sendRaw(gateway.port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');

    expect(statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    const headers = Object.fromEntries(headerLines.map((line) => line.split(': ') as [string, string]));
    const error = expectErrorShape({ headers, body }, 'invalid_request');
    expect(error.message).toMatch(/headers are too large/);
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    expect(upstreamRequests).toBe(0);
  });

  it('answers 400 invalid_request in our shape to a request that is not HTTP', async () => {
    const raw = await sendRaw(gateway.port, 'HELLO THERE\r\n\r\n');
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');

    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    const headers = Object.fromEntries(headerLines.map((line) => line.split(': ') as [string, string]));
    expectErrorShape({ headers, body }, 'invalid_request');
  });
});

describe('upstream failures', () => {
  it('answers 503 unavailable with Retry-After: 1 when the upstream is unreachable', async () => {
    const orphan = await startExtraGateway({ upstreamPort: await closedPort() });
    const reply = await send(`${orphan.url}/health`);

    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expectErrorShape(reply, 'unavailable');
  });

  it('answers 503 unavailable when the upstream drops the connection before answering', async () => {
    handleUpstream = (request) => request.socket.destroy();
    const reply = await send(`${gateway.url}/tasks`, { method: 'POST', body: ['{}'] });

    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expectErrorShape(reply, 'unavailable');
  });

  it('answers 503 and keeps reading a large upload when the upstream fails in the middle of it', async () => {
    const roomy = await startExtraGateway({ maxBodyBytes: 64 * 1024 * 1024 });
    handleUpstream = (request) => request.once('data', () => request.socket.destroy());

    // A keep-alive connection: with `Connection: close` the gateway may close it after answering.
    const keepAlive = new Agent({ keepAlive: true });
    onTestFinished(() => keepAlive.destroy());
    const request = httpRequest(`${roomy.url}/tasks`, { method: 'POST', agent: keepAlive });
    const responded = once(request, 'response') as Promise<[IncomingMessage]>;
    // 32 MiB, more than the socket buffers hold: an upload the gateway stopped reading would stall.
    // Written without waiting for 'drain', which Node's client stops emitting once a response is in.
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 512; i += 1) request.write(chunk);
    request.end();
    const [response] = await responded;
    const chunks: Buffer[] = [];
    for await (const part of response) chunks.push(part as Buffer);

    expect(response.statusCode).toBe(503);
    expectErrorShape({ headers: response.headers, body: Buffer.concat(chunks).toString() }, 'unavailable');
    await once(request, 'finish'); // Every byte of the body went out.
  });

  it('cuts the client response short when the upstream fails after its headers were relayed', async () => {
    handleUpstream = (request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('partial', () => request.socket.destroy());
    };

    const request = httpRequest(`${gateway.url}/download`, { agent: false });
    request.end();
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    expect(response.statusCode).toBe(200);
    response.resume();
    await expect(finished(response)).rejects.toThrow();
    expect(response.complete).toBe(false);
  });
});

describe('client going away', () => {
  it('aborts the upstream request when the client disconnects before the answer', async () => {
    let upstreamResponseState: 'waiting' | 'closed early' | undefined;
    handleUpstream = (_request, response) => {
      upstreamResponseState = 'waiting'; // Never answers: a long poll.
      response.on('close', () => {
        if (!response.writableFinished) upstreamResponseState = 'closed early';
      });
    };

    const request = httpRequest(`${gateway.url}/tasks/wait`, { agent: false });
    request.on('error', () => {}); // The socket hang-up of our own destroy().
    request.end();
    await eventually(() => expect(upstreamResponseState).toBe('waiting'), SETTLE);
    request.destroy();

    await eventually(() => expect(upstreamResponseState).toBe('closed early'), SETTLE);
  });
});

describe('client address', () => {
  it.each(['127.0.0.2', '127.0.0.3'])('makes the upstream see a client on %s as that address', async (address) => {
    const reply = await send(`${gateway.url}/whoami`, { localAddress: address });
    expect((JSON.parse(reply.body) as Echo).remoteAddress).toBe(address);
  });

  it('does not add a forwarded-for header', async () => {
    const reply = await send(`${gateway.url}/whoami`, { localAddress: '127.0.0.2' });
    const { headers } = JSON.parse(reply.body) as Echo;
    expect(Object.keys(headers).filter((name) => name.includes('forwarded'))).toEqual([]);
  });
});

describe('close', () => {
  it('closes idle keep-alive connections and requests in flight, then refuses new ones', async () => {
    const doomed = await startGateway({ port: 0, upstreamPort });
    const keepAlive = new Agent({ keepAlive: true });
    try {
      const first = httpRequest(`${doomed.url}/health`, { agent: keepAlive });
      first.end();
      const [[socket], [response]] = (await Promise.all([once(first, 'socket'), once(first, 'response')])) as [
        [Socket],
        [IncomingMessage],
      ];
      response.resume();
      await finished(response);
      const idleSocketClosed = once(socket, 'close');

      handleUpstream = () => {}; // Never answers: a long poll.
      const held = httpRequest(`${doomed.url}/tasks/wait`, { agent: false });
      const heldFailed = once(held, 'error');
      held.end();
      await eventually(() => expect(upstreamRequests).toBe(2), SETTLE);

      await doomed.close();
      await idleSocketClosed;
      const [heldError] = (await heldFailed) as [NodeJS.ErrnoException];
      expect(heldError.code).toBe('ECONNRESET');
      await expect(send(`${doomed.url}/health`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      keepAlive.destroy();
      await doomed.close();
    }
  });
});
