import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A JSON file of embedded mode's state in DATA_DIR: read once at start, replaced whole and
 * atomically (temp file + rename, mode 0600). Writes are coalesced — one at a time, and a write
 * already queued takes whatever changed since — and a failed one is retried by the next.
 */
export class StateFile<T> {
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  /** `path` null: nothing is read or written (tests, or no DATA_DIR). */
  constructor(
    readonly path: string | null,
    private readonly snapshot: () => T,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** The state last written, or null when there is none yet. */
  async read(): Promise<T | null> {
    if (!this.path) return null;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  write(): Promise<void> {
    if (!this.path) return Promise.resolve();
    this.dirty = true;
    this.writing = this.writing
      .catch(() => {})
      .then(async () => {
        if (!this.dirty) return;
        this.dirty = false;
        const tmp = `${this.path}.${process.pid}.tmp`;
        try {
          await writeFile(tmp, JSON.stringify(this.snapshot()), { mode: 0o600 });
          await rename(tmp, this.path!);
        } catch (err) {
          this.dirty = true;
          this.onError(err as Error);
          throw err;
        }
      });
    return this.writing;
  }

  /** Lets the last write finish, and writes what a failed one left. */
  async close(): Promise<void> {
    await this.writing.catch(() => {});
    if (this.dirty) await this.write().catch(() => {});
  }

  get pending(): boolean {
    return this.dirty;
  }
}
