// Where sockvisor's log lines go: fd 2, written without ever blocking the event loop.
//
// fd 2 is usually shared with the child (uWSGI logs there too) and may be a pipe whose reader is
// slow or stuck (a log collector, a pager left open). A synchronous write to a full pipe blocks
// the whole event loop: no child is restarted, no signal handled, until the reader returns.
// O_NONBLOCK is no way out: it belongs to the open file description, which the child shares, so
// uWSGI's own log writes would start failing with EAGAIN (and spawn.cc clears it on the child's
// fds 0-2 in any case). Reopening /proc/self/fd/2 for a description of our own works for pipes
// only: not for sockets (journald's stream) and, for files, it brings a second file offset.
// So the writes run in libuv's thread pool (fs.write): a write that blocks holds one pool thread,
// never the loop. One write is in flight at a time, which keeps the order; lines wait in memory
// up to a bound, past which new lines are dropped and counted, and the count is reported once
// writing resumes. At exit, flush() waits for the rest, with a deadline.
import { write } from 'node:fs';

/** Lines waiting for a slow reader, in bytes: past this, new lines are dropped (and counted). */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** When fd 2 is non-blocking after all (someone else set O_NONBLOCK), retry after this. */
const EAGAIN_RETRY_MS = 50;

/** A pino destination (anything with write(line)) on a file descriptor, never blocking. */
export class NonBlockingDestination {
  readonly #fd: number;
  readonly #format: (line: string) => string;
  readonly #pending: Buffer[] = [];
  #pendingBytes = 0;
  #writing = false;
  #dropped = 0;
  #idleWaiters: (() => void)[] = [];
  /** called with the count of lines dropped while the reader was stuck, once writing resumes */
  onDropped: ((lines: number) => void) | null = null;

  /** format turns pino's JSON line into what is written (pretty output); identity by default. */
  constructor(fd: number, format: (line: string) => string = (line) => line) {
    this.#fd = fd;
    this.#format = format;
  }

  /** Queues a line; never blocks, never throws. */
  write(line: string): void {
    const data = Buffer.from(this.#format(line));
    if (this.#pendingBytes + data.length > MAX_PENDING_BYTES) {
      this.#dropped++;
      return;
    }
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (!this.#writing) this.#writeNext();
  }

  /** Resolves true once every queued line is written, false when timeoutMs passes first. */
  flush(timeoutMs: number): Promise<boolean> {
    if (!this.#writing) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.push(done);
    });
  }

  #writeNext(): void {
    const data = this.#pending.length > 1 ? Buffer.concat(this.#pending.splice(0)) : this.#pending.shift();
    if (!data) {
      this.#writing = false;
      for (const waiter of this.#idleWaiters.splice(0)) waiter();
      return;
    }
    this.#writing = true;
    this.#writeFrom(data, 0);
  }

  #writeFrom(data: Buffer, offset: number): void {
    write(this.#fd, data, offset, data.length - offset, null, (error, written) => {
      if (error) {
        if (error.code === 'EAGAIN') {
          setTimeout(() => this.#writeFrom(data, offset), EAGAIN_RETRY_MS);
          return;
        }
        // fd 2 closed or broken (EPIPE: nobody will ever read it): nothing else to log to.
        this.#pendingBytes = 0;
        this.#pending.length = 0;
        this.#writing = false;
        for (const waiter of this.#idleWaiters.splice(0)) waiter();
        return;
      }
      if (offset + written < data.length) {
        this.#writeFrom(data, offset + written);
        return;
      }
      this.#pendingBytes -= data.length;
      if (this.#dropped > 0 && this.onDropped) {
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.onDropped(dropped);
      }
      this.#writeNext();
    });
  }
}
