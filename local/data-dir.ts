import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The lock a running stack holds on its data folder. */
export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Claims `dir` for this process with a pid file, so a second stack on the same data folder stops
 * at once with a clear message, instead of meeting LevelDB's own lock deep inside dynalite (which
 * throws it where nothing can catch it). A pid file whose process is gone (a crash, kill -9) is
 * taken over.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const path = join(dir, 'doozer.pid');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(String(process.pid));
      await file.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
      throw new Error(
        `the data folder ${dir} is in use by another doozer stack (pid ${holder}): stop it, or give this one a folder of its own with DOOZER_DATA_DIR`,
      );
    }
    await rm(path, { force: true });
  }
  throw new Error(`could not claim the data folder ${dir}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
