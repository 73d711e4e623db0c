import {
  Agent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  STATUS_CODES,
  type Server,
  type ServerResponse,
  createServer,
  request as upstreamRequestTo,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Duplex, Transform, pipeline } from 'node:stream';
import type { ErrorCode } from '../lib/errors.ts';

export interface GatewayOptions {
  /** Public port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** Where serverless-offline listens (127.0.0.1). */
  readonly upstreamPort: number;
  /** Largest request body forwarded; API Gateway HTTP API's payload limit, 10 MiB, by default. */
  readonly maxBodyBytes?: number;
}

export interface Gateway {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops listening and closes every connection, idle keep-alive ones and those mid-request too. */
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
/** https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html (payload size). */
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the message: never relayed. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The local stand-in for API Gateway: a reverse proxy on the public API port, in front of
 * serverless-offline on an internal loopback port, as API Gateway sits in front of Lambda when
 * deployed. serverless-offline's hapi server answers differently from the deployed HTTP API: it
 * echoes any `Origin` into `access-control-allow-origin` with credentials allowed (the deployed API
 * has CORS off and sends no `access-control-*` header), and it answers an oversized body or
 * oversized headers with hapi's own error shapes. The gateway gives clients the deployed behaviour
 * and our one error shape, `{"error":{"code","message"}}`, for the errors it answers itself.
 *
 * Bodies are streamed both ways, never buffered: every local request goes through here.
 * Rejects with `code: 'EADDRINUSE'` when the port is taken.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Node's agent keeps pooled sockets forever unless it has a timeout of its own; only then does it
  // honour the upstream's `Keep-Alive: timeout=5` and drop a socket before the upstream closes it.
  // A socket the upstream is closing fails the next request with ECONNRESET. On a socket in use the
  // timeout only emits 'timeout', which nothing here listens to: long polls are not cut.
  const agent = new Agent({ keepAlive: true, timeout: 4_000 });
  const forwarder = { upstreamPort: options.upstreamPort, agent, maxBodyBytes };
  const server = createServer((request, response) => forward(request, response, forwarder));
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    // curl waits for 100 Continue before sending a large body: refusing it here saves the upload.
    if (declaredBodyBytes(request) > maxBodyBytes) {
      // The announced body never comes, so the connection cannot carry another request.
      answerError(response, 413, 'payload_too_large', tooLargeMessage(maxBodyBytes), { connection: 'close' });
      return;
    }
    response.writeContinue();
    forward(request, response, forwarder);
  });
  server.on('clientError', answerClientError);

  try {
    await listen(server, options.port);
  } catch (error) {
    agent.destroy();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://${LOOPBACK}:${port}`,
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // A long poll (waiting for a task's result) or an idle keep-alive connection would hold close().
        server.closeAllConnections();
        agent.destroy();
      })),
  };
}

interface Forwarder {
  readonly upstreamPort: number;
  readonly agent: Agent;
  readonly maxBodyBytes: number;
}

function forward(request: IncomingMessage, response: ServerResponse, { upstreamPort, agent, maxBodyBytes }: Forwarder): void {
  if (declaredBodyBytes(request) > maxBodyBytes) {
    // Node reads and discards the announced body after this answer, so the client gets to read it.
    answerError(response, 413, 'payload_too_large', tooLargeMessage(maxBodyBytes));
    return;
  }
  // Once the upstream's status line is relayed, an error of ours can no longer be sent.
  let relaying = false;
  const fail = (status: number, code: ErrorCode, message: string, headers: OutgoingHttpHeaders) => {
    if (response.writableEnded || response.destroyed) return;
    if (relaying) response.destroy();
    else answerError(response, status, code, message, headers);
  };

  const upstreamRequest = upstreamRequestTo({
    host: LOOPBACK,
    port: upstreamPort,
    agent,
    method: request.method,
    path: request.url,
    headers: upstreamRequestHeaders(request),
    localAddress: loopbackAddress(request.socket.remoteAddress),
  });
  upstreamRequest.on('response', (upstreamResponse) => {
    relaying = true;
    response.writeHead(upstreamResponse.statusCode!, upstreamResponse.statusMessage, clientResponseHeaders(upstreamResponse.rawHeaders));
    pipeline(upstreamResponse, response, (error) => {
      if (error) response.destroy();
    });
  });
  upstreamRequest.on('error', () =>
    fail(503, 'unavailable', 'the service is temporarily unavailable; try again shortly', { 'retry-after': '1' }),
  );
  response.on('close', () => {
    if (!response.writableFinished) upstreamRequest.destroy(); // The client went away.
  });

  // pipe, not pipeline, from the client's request: pipeline would destroy it on a failure, and its
  // socket with it, leaving no way to answer 413.
  const limiter = bodyLimit(maxBodyBytes);
  request.pipe(limiter);
  pipeline(limiter, upstreamRequest, (error) => {
    if (!error) return;
    // pipe has unhooked the request. What the upstream no longer takes is read and dropped: an
    // upload nobody reads would stall the connection (and the client) until the keep-alive timeout.
    request.resume();
    if (!(error instanceof BodyTooLargeError)) return; // Upstream failures: its 'error' listener.
    // pipeline has aborted the upstream request. The rest of the chunked body may be endless: the
    // connection ends with this answer.
    fail(413, 'payload_too_large', tooLargeMessage(maxBodyBytes), { connection: 'close' });
  });
}

/** Content-Length, 0 without one (Node's parser has already refused a malformed one). */
function declaredBodyBytes(request: IncomingMessage): number {
  return Number(request.headers['content-length'] ?? 0);
}

function tooLargeMessage(maxBodyBytes: number): string {
  return `request body is larger than ${maxBodyBytes} bytes`;
}

class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Passes a body through until it grows past `maxBytes`: the guard for chunked bodies. */
function bodyLimit(maxBytes: number): Transform {
  let received = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes) callback(new BodyTooLargeError(`more than ${maxBytes} bytes`));
      else callback(null, chunk);
    },
  });
}

function upstreamRequestHeaders(request: IncomingMessage): string[] {
  // serverless-offline's CORS handling (headers echoed, an OPTIONS status rewritten) runs only for
  // a request with an Origin; the deployed API has none, and the app reads no Origin.
  const headers = endToEndHeaders(request.rawHeaders, (name) => name === 'origin');
  // Node's client frames a GET or DELETE body by closing the connection, which ends a request
  // early; a body that came chunked goes on chunked.
  if (request.headers['transfer-encoding'] !== undefined) headers.push('transfer-encoding', 'chunked');
  return headers;
}

function clientResponseHeaders(rawHeaders: readonly string[]): string[] {
  // serverless-offline echoes the request's Origin here; the deployed API, CORS off, sends none.
  return endToEndHeaders(rawHeaders, (name) => name.startsWith('access-control-'));
}

/** The raw `[name, value, ...]` list without hop-by-hop fields and those `drop` picks (by lower-case name). */
function endToEndHeaders(rawHeaders: readonly string[], drop: (name: string) => boolean): string[] {
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || drop(name)) continue;
    kept.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return kept;
}

/**
 * The client's address when it is an IPv4 loopback one (127.x.y.z), to connect to the upstream
 * from: the API reads the caller's address from its socket (API Gateway's
 * `requestContext.http.sourceIp`) and throttles logins per address. Every 127/8 address is local,
 * so the upstream sees the client's own, with no forwarded-for header anyone could forge.
 */
function loopbackAddress(remoteAddress: string | undefined): string | undefined {
  const address = remoteAddress?.replace(/^::ffff:/, '');
  return address !== undefined && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) ? address : undefined;
}

function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

function answerError(
  response: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = errorBody(code, message);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/**
 * Requests Node's parser refuses never reach a handler; without this, Node (and hapi) answer with a
 * bare status line. Headers past Node's limit (16 KiB) get 431, anything else 400.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers are too large']
      : [400, 'the request is not valid HTTP'];
  const body = errorBody('invalid_request', message);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${body}`, () => socket.destroy());
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      reject(Object.assign(new Error(`port ${port} is already in use`, { cause: error }), { code: error.code }));
    };
    server.once('error', onError);
    server.listen(port, LOOPBACK, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
