import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';

/** A running emulator, bound to loopback only. */
export interface Emulator {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /**
   * Called for every request the emulator receives, with its action: the X-Amz-Target header of the
   * AWS JSON protocol (`AmazonSQS.SendMessage`, `DynamoDB_20120810.GetItem`), `unknown` without one.
   * The benchmark counts AWS calls with it (from the headers only: the body is left untouched); its
   * `--trace` mode also times them, with the request and the response.
   */
  readonly onRequest?: (action: string, request: IncomingMessage, response: ServerResponse) => void;
}

const LOOPBACK = '127.0.0.1';

function observeRequests(server: Server, onRequest: EmulatorOptions['onRequest']): void {
  if (!onRequest) return;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const target = request.headers['x-amz-target'];
    onRequest(typeof target === 'string' ? target : 'unknown', request, response);
  });
}

/**
 * SQS emulator (fauxqs, in-process). `startFauxqs` always listens on 0.0.0.0, which would expose an
 * open queue to the network; its app factory lets us bind loopback instead. Queue URLs come out as
 * `http://sqs.<region>.localhost:<port>/000000000000/<name>` (fauxqs's default host), which need not
 * resolve: every client here reaches the emulator through its explicit endpoint.
 * Port 0 picks a free port.
 */
export async function startSqsEmulator(port: number, { onRequest }: EmulatorOptions = {}): Promise<Emulator> {
  const app = buildApp({ logger: false });
  observeRequests(app.server, onRequest);
  await app.listen({ port, host: LOOPBACK });
  const bound = (app.server.address() as AddressInfo).port;
  return {
    endpoint: `http://${LOOPBACK}:${bound}`,
    port: bound,
    stop: async () => {
      // In-flight long polls would hold close() for up to 20 s.
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/**
 * DynamoDB emulator (dynalite, in-process): in memory, or in a LevelDB folder at `path` that outlives
 * a restart. `createTableMs: 0` makes a new table ACTIVE at once instead of after about a second.
 */
export async function startDynamoDbEmulator(
  port: number,
  { onRequest, ...options }: { path?: string } & EmulatorOptions = {},
): Promise<Emulator> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...options });
  observeRequests(server, onRequest);
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    inFlight.add(response);
    response.once('close', () => inFlight.delete(response));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${LOOPBACK}:${bound}`,
    port: bound,
    // Requests in flight finish first: dynalite writes an item's index entries and then the item,
    // and a stop between the two would leave an open task that the open-tasks index no longer lists.
    stop: async () => {
      const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      server.closeIdleConnections();
      const deadline = Date.now() + 5_000;
      while (inFlight.size > 0 && Date.now() < deadline) await sleep(5);
      server.closeAllConnections();
      await closed;
    },
  };
}
