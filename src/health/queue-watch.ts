// A warning when a held socket's accept queue stays full: nobody accepts (every worker hung or
// busy, or a child that never calls accept()), and nginx soon gets EAGAIN (502). Sampled through
// sock_diag every few seconds: one netlink round trip per socket, cheap enough to be always on.
import type { Logger } from 'pino';
import type { ListenQueue } from '../native.js';

/** How often the queue is read. */
export const QUEUE_SAMPLE_MS = 2000;
/** Full this many samples in a row (about 4-6 s): a burst drains faster than that. */
export const FULL_SAMPLES = 3;
/** While it stays full, the warning is repeated at most this often. */
export const REPEAT_WARNING_MS = 60_000;

export interface QueueState {
  fullSamples: number;
  /** when the last warning was logged; null: none since it was last not full */
  warnedAtMs: number | null;
}

export const initialQueueState: QueueState = { fullSamples: 0, warnedAtMs: null };

export type QueueAction = 'warn' | 'drained' | null;

/** Whether the accept queue is at its limit: the kernel queues up to backlog + 1, then refuses. */
export function isFull(queue: ListenQueue): boolean {
  return queue.queued >= queue.backlog;
}

/** One sample: warn after FULL_SAMPLES full ones in a row (then every REPEAT_WARNING_MS), 'drained' once it is not full after a warning. */
export function queueStep(state: QueueState, queue: ListenQueue, nowMs: number): { state: QueueState; action: QueueAction } {
  if (!isFull(queue)) return { state: initialQueueState, action: state.warnedAtMs === null ? null : 'drained' };
  const fullSamples = state.fullSamples + 1;
  if (fullSamples < FULL_SAMPLES) return { state: { ...state, fullSamples }, action: null };
  if (state.warnedAtMs !== null && nowMs - state.warnedAtMs < REPEAT_WARNING_MS) return { state: { ...state, fullSamples }, action: null };
  return { state: { fullSamples, warnedAtMs: nowMs }, action: 'warn' };
}

/** A held unix socket as the watch reads it: looked up at every sample (a socket made anew has another fd). */
export interface WatchedSocket {
  fd: number;
  path: string;
}

export interface QueueWatchOptions {
  sockets: () => WatchedSocket[];
  read: (fd: number) => ListenQueue;
  /** the current child, for the warning */
  pid: () => number | null;
  logger: Logger;
  sampleMs?: number;
}

/** Samples every held unix socket's accept queue until close(). */
export class QueueWatch {
  readonly #options: QueueWatchOptions;
  readonly #states = new Map<string, QueueState>();
  readonly #timer: NodeJS.Timeout;

  private constructor(options: QueueWatchOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#sample(), options.sampleMs ?? QUEUE_SAMPLE_MS);
  }

  static start(options: QueueWatchOptions): QueueWatch {
    return new QueueWatch(options);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const { logger } = this.#options;
    for (const socket of this.#options.sockets()) {
      let queue: ListenQueue;
      try {
        queue = this.#options.read(socket.fd);
      } catch (error) {
        // Not worth a warning every 2 s: a kernel without unix_diag (a module not loaded) says so once at debug.
        logger.debug({ event: 'queue.unreadable', path: socket.path, err: error }, `cannot read the accept queue of ${socket.path}`);
        continue;
      }
      const { state, action } = queueStep(this.#states.get(socket.path) ?? initialQueueState, queue, performance.now());
      this.#states.set(socket.path, state);
      const pid = this.#options.pid();
      const seconds = Math.round((state.fullSamples * (this.#options.sampleMs ?? QUEUE_SAMPLE_MS)) / 1000);
      if (action === 'warn') {
        logger.warn(
          { event: 'queue.full', path: socket.path, queued: queue.queued, backlog: queue.backlog, pid },
          `the accept queue of ${socket.path} has been full for ${seconds} s (${queue.queued} connections waiting, ` +
            `backlog ${queue.backlog}): nobody accepts, so new connections are refused (nginx: 502, "Resource temporarily ` +
            `unavailable"); check whether ${pid === null ? 'the child' : `the child ${pid}`} and its workers are hung or all busy ` +
            '(e.g. py-spy dump, strace -p), or enable --health-check to replace a hung child',
        );
      } else if (action === 'drained') {
        logger.info(
          { event: 'queue.drained', path: socket.path, queued: queue.queued, backlog: queue.backlog, pid },
          `the accept queue of ${socket.path} is no longer full (${queue.queued} of ${queue.backlog})`,
        );
      }
    }
  }
}
