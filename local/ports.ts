import { connect, createServer } from 'node:net';

const LOOPBACK = '127.0.0.1';

/** Free loopback ports, picked by the OS (free when returned; a port is only ever borrowed). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, LOOPBACK, resolve);
      });
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A port the stack needs, and the setting that chooses it. */
export interface NamedPort {
  readonly port: number;
  readonly setting: string;
}

/**
 * Fails at once, naming every port that is taken and the setting that moves it, before anything is
 * started: a second stack on the same ports must not half-start beside the first (nor report the
 * first one's health as its own).
 */
export async function assertPortsFree(ports: readonly NamedPort[]): Promise<void> {
  const taken: NamedPort[] = [];
  for (const named of ports) {
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(named.port, LOOPBACK, () => resolve(true));
    });
    if (free) await new Promise((resolve) => server.close(resolve));
    else taken.push(named);
  }
  if (taken.length > 0) {
    const list = taken.map(({ port, setting }) => `${port} (${setting})`).join(', ');
    throw new PortInUseError(
      `${taken.length === 1 ? 'port' : 'ports'} ${list} ${taken.length === 1 ? 'is' : 'are'} already in use on ${LOOPBACK}: ` +
        'is another doozer stack running? Stop it, or choose other ports with the settings named.',
    );
  }
}

export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

export interface StackPorts {
  readonly api: number;
  readonly lambda: number;
  readonly sqs: number;
  readonly dynamodb: number;
  /** The settings that give `npm start` (local/settings.ts) these ports. */
  readonly env: Record<string, string>;
}

/** Four free loopback ports for a local stack, and the environment that hands them to it. */
export async function freeStackPorts(): Promise<StackPorts> {
  const [api, lambda, sqs, dynamodb] = (await freePorts(4)) as [number, number, number, number];
  return {
    api,
    lambda,
    sqs,
    dynamodb,
    env: {
      DOOZER_API_PORT: String(api),
      DOOZER_LAMBDA_PORT: String(lambda),
      DOOZER_SQS_PORT: String(sqs),
      DOOZER_DYNAMODB_PORT: String(dynamodb),
    },
  };
}

/** True while something accepts connections on the loopback `port`. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Whether this machine answers on the loopback address `address` (127.0.0.2, say): Linux routes all
 * of 127/8 to itself, macOS only 127.0.0.1 unless more are aliased. Tests and the bench that pose as
 * several clients need it.
 */
export async function canUseLoopbackAddress(address: string): Promise<boolean> {
  const server = createServer();
  const usable = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, address, () => resolve(true));
  });
  if (usable) await new Promise((resolve) => server.close(resolve));
  return usable;
}
