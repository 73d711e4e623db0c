import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { type Server, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The lock a running stack holds on its data folder. */
export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Claims `dir` for this process, so a second stack on the same data folder stops at once with a
 * clear message, instead of meeting LevelDB's own lock deep inside dynalite (which throws it where
 * nothing can catch it). The lock is a local socket this process listens on: the kernel closes it
 * when the process ends, however it ends (a zombie's pid would still look alive). On Linux it is
 * an abstract socket, which leaves no file behind; elsewhere a socket file nobody answers on (a
 * crash, a reboot) is taken over. Whoever connects is told the holder's pid.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const path = socketPath(dir);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const server = createServer((socket) => socket.end(String(process.pid)));
    const error = await listen(server, path);
    if (!error) return { release: () => new Promise<void>((done) => server.close(() => done())) };
    if (error.code !== 'EADDRINUSE') throw error;
    const holder = await holderOf(path);
    if (holder !== undefined) {
      throw new Error(
        `the data folder ${dir} is in use by another doozer stack (pid ${holder}): stop it, or give this one a folder of its own with DOOZER_DATA_DIR`,
      );
    }
    // Nobody answers: the socket file of a stack that is gone (an abstract socket has no file).
    if (!path.startsWith('\0')) await rm(path, { force: true });
  }
  throw new Error(`could not claim the data folder ${dir}`);
}

/** One name per folder, short enough for a socket whatever the folder's path. */
function socketPath(dir: string): string {
  const key = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 24);
  if (process.platform === 'linux') return `\0doozer-${key}`;
  return process.platform === 'win32' ? `\\\\.\\pipe\\doozer-${key}` : join(tmpdir(), `doozer-${key}.sock`);
}

function listen(server: Server, path: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((done) => {
    server.once('error', (error: NodeJS.ErrnoException) => done(error));
    server.listen(path, () => done(undefined));
  });
}

/**
 * The pid the holder of `path` answers with (`unknown` if it accepts but does not say in time), or
 * undefined when nothing accepts a connection there.
 */
function holderOf(path: string): Promise<string | undefined> {
  return new Promise((done) => {
    let connected = false;
    let answer = '';
    const socket = connect(path, () => (connected = true));
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (chunk) => (answer += chunk));
    socket.once('error', () => {});
    socket.once('close', () => done(connected ? answer.trim() || 'unknown' : undefined));
  });
}
