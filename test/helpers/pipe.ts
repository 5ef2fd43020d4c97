// A pipe whose reader is slow or gone, for logging tests: a FIFO the test fills to the last byte
// and drains when it chooses.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';

const openPipes = new Set<StuckPipe>();

/** A FIFO to give a process as stderr: held open for reading and writing, read only on demand. */
export class StuckPipe {
  /** O_RDWR and blocking, as a shell redirection would make it: sockvisor's fd 2 */
  readonly holder: number;
  readonly #reader: number;
  readonly #path: string;

  constructor(path: string) {
    execFileSync('mkfifo', [path]);
    this.#path = path;
    // Opened read-write, nobody reading it ever sees EOF, and writers never get EPIPE.
    this.holder = openSync(path, constants.O_RDWR);
    this.#reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    openPipes.add(this);
  }

  /** Fills the pipe to the last byte, so that the next write to it blocks; returns the bytes written. */
  fill(): number {
    const writer = openSync(this.#path, constants.O_WRONLY | constants.O_NONBLOCK);
    let total = 0;
    for (const size of [4096, 1]) {
      const chunk = Buffer.alloc(size, '\n');
      for (;;) {
        try {
          total += writeSync(writer, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw error;
        }
      }
    }
    closeSync(writer);
    return total;
  }

  /** Reads whatever the pipe holds now. */
  drain(): string {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(65536);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#reader, buffer);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw error;
      }
      if (n <= 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  close(): void {
    openPipes.delete(this);
    closeSync(this.holder);
    closeSync(this.#reader);
  }
}

/** Reads every open StuckPipe empty (so that blocked writers can go on). */
export function drainAllPipes(): void {
  for (const pipe of openPipes) pipe.drain();
}

/** Closes every StuckPipe still open. */
export function closeAllPipes(): void {
  for (const pipe of [...openPipes]) pipe.close();
}
