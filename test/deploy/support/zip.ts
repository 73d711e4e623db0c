/** Reads the files of a zip (a function's deployment package) into memory. */
import { text } from 'node:stream/consumers';
import yauzl from 'yauzl';

export interface ZipFileEntry {
  readonly name: string;
  /** Bytes once unzipped. */
  readonly size: number;
  readonly read: () => Promise<string>;
}

/** The file entries of the zip at `path` (directories left out); `close()` when done reading. */
export async function openZip(path: string): Promise<{ entries: ZipFileEntry[]; close(): void }> {
  // Lazy: entries come one readEntry() at a time, so none is emitted before the listeners exist.
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  const raw = await new Promise<yauzl.Entry[]>((resolve, reject) => {
    const found: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      found.push(entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(found));
    zip.on('error', reject);
    zip.readEntry();
  });
  const entries = raw
    .filter((entry) => !entry.fileName.endsWith('/'))
    .map((entry) => ({
      name: entry.fileName,
      size: entry.uncompressedSize,
      read: async () => text(await zip.openReadStreamPromise(entry)),
    }));
  return { entries, close: () => zip.close() };
}
