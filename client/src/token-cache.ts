import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface CachedToken {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/** Where a client keeps tokens between runs. */
export interface TokenCache {
  get(key: string): Promise<CachedToken | undefined>;
  set(key: string, token: CachedToken): Promise<void>;
  delete(key: string): Promise<void>;
}

export class MemoryTokenCache implements TokenCache {
  readonly #tokens = new Map<string, CachedToken>();
  async get(key: string) {
    return this.#tokens.get(key);
  }
  async set(key: string, token: CachedToken) {
    this.#tokens.set(key, token);
  }
  async delete(key: string) {
    this.#tokens.delete(key);
  }
}

/**
 * Tokens in one JSON file readable by its owner only (0600, in a 0700 folder): a token is a
 * credential. The cache only saves requests: a file that cannot be read is treated as empty, and one
 * that cannot be written is reported to `onWriteError` and otherwise ignored.
 */
export class FileTokenCache implements TokenCache {
  constructor(
    readonly path: string,
    private readonly onWriteError: (error: Error) => void = () => {},
  ) {}

  async get(key: string): Promise<CachedToken | undefined> {
    const entry = (await this.#read())[key];
    return entry && typeof entry.token === 'string' && typeof entry.expiresAt === 'number' ? entry : undefined;
  }

  async set(key: string, token: CachedToken): Promise<void> {
    await this.#write({ ...(await this.#read()), [key]: token });
  }

  async delete(key: string): Promise<void> {
    const tokens = await this.#read();
    if (!(key in tokens)) return;
    delete tokens[key];
    await this.#write(tokens);
  }

  async #read(): Promise<Record<string, CachedToken>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, CachedToken>) : {};
    } catch {
      return {};
    }
  }

  async #write(tokens: Record<string, CachedToken>): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      // Write then rename, so a concurrent run never reads half a file.
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(tokens), { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, this.path);
    } catch (error) {
      this.onWriteError(error as Error);
    }
  }
}
