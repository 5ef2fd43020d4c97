// The pace of self-healing, as pure policy with the clock as an input (socket/healer.ts keeps the
// timers): when to look again at a path that cannot be put right yet (backoff), how often a socket
// may be checked when someone keeps changing it (a token bucket), and which repairs are logged one
// by one and which are only counted into a summary line (per socket and kind of repair).
//
// Why: nothing inotify sees happens when the server behind a foreign socket exits, or when space
// is freed on a full file system, so those repairs need a timer; and whoever can chmod the socket
// (root, or its owner with --socket-owner) must not be able to make sockvisor use a full core or
// fill the disk with warnings.

/** The defaults socket/healer.ts uses, in one place. docs/usage.md, 'Self-healing' documents them. */
export const PACING = {
  /** first timed re-check of a path that is not right yet, then doubling... */
  recheckFirstMs: 200,
  /** ...up to this: a foreign socket is probed (connect, close) at most this often */
  recheckMaxMs: 2000,
  /** checks of one socket allowed at once after a quiet time (each inotify wakeup for it is one) */
  checkBurst: 50,
  /** then this many per second at most: events in between only ask for the next one */
  checksPerSecond: 100,
  /** repairs of one kind after the first are counted, and summed up in one line per interval */
  summaryIntervalMs: 5000,
} as const;

/** Delays for the timed re-checks of one socket: first, doubling up to max; back to first once the path is right. */
export class Backoff {
  readonly #first: number;
  readonly #max: number;
  #next: number;

  constructor(firstMs: number = PACING.recheckFirstMs, maxMs: number = PACING.recheckMaxMs) {
    this.#first = firstMs;
    this.#max = maxMs;
    this.#next = firstMs;
  }

  /** The delay before the next re-check (each call doubles the one after it, up to max). */
  next(): number {
    const delay = this.#next;
    this.#next = Math.min(this.#max, this.#next * 2);
    return delay;
  }

  /** The path is right again: the next trouble starts from the first delay. */
  reset(): void {
    this.#next = this.#first;
  }
}

/**
 * A token bucket of checks for one socket: `burst` at once after a quiet time (so the first repair
 * is never delayed), then `perSecond`. A check that must wait is not lost: the caller marks the
 * socket dirty and checks it once when told, whatever number of events came meanwhile.
 */
export class CheckPacer {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #at: number;

  constructor(now: number, burst: number = PACING.checkBurst, perSecond: number = PACING.checksPerSecond) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#tokens = burst;
    this.#at = now;
  }

  /** 0: check now (one check spent); else the ms to wait until a check is allowed (nothing spent). */
  take(now: number): number {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
    // The epsilon: 0.4 + 0.6 of a token in floating point may fall just short of one.
    if (this.#tokens >= 1 - 1e-9) {
      this.#tokens = Math.max(0, this.#tokens - 1);
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs - 1e-9));
  }
}

/** A summary of the repairs of one kind that were counted, not logged one by one. */
export interface RepairSummary<T> {
  key: string;
  /** repairs since the last line about them */
  count: number;
  /** ms since that line */
  sinceMs: number;
  /** what the last of them found and did */
  last: T;
}

interface Window<T> {
  start: number;
  count: number;
  last: T | null;
}

/**
 * Which repairs are logged: per key (a socket and a kind of repair), the first one after a quiet
 * interval at once; the ones after it within the interval are counted, and due() sums them up at
 * the interval's end, which starts another interval. An interval in which nothing was counted
 * ends quietly: the next repair is logged at once again.
 */
export class RepairLog<T> {
  readonly #intervalMs: number;
  readonly #windows = new Map<string, Window<T>>();

  constructor(intervalMs: number = PACING.summaryIntervalMs) {
    this.#intervalMs = intervalMs;
  }

  /** true: log this repair now; false: it is counted (due() returns it by nextDue()). */
  note(key: string, now: number, what: T): boolean {
    const window = this.#windows.get(key);
    // A window whose interval has ended with something counted still owes its summary: count on into it.
    if (window && (now < window.start + this.#intervalMs || window.count > 0)) {
      window.count++;
      window.last = what;
      return false;
    }
    this.#windows.set(key, { start: now, count: 0, last: null });
    return true;
  }

  /** The summaries due by now; each starts a new interval. Quiet intervals that have ended are forgotten. */
  due(now: number): RepairSummary<T>[] {
    const summaries: RepairSummary<T>[] = [];
    for (const [key, window] of this.#windows) {
      if (now < window.start + this.#intervalMs) continue;
      if (window.count === 0) {
        this.#windows.delete(key);
        continue;
      }
      summaries.push({ key, count: window.count, sinceMs: now - window.start, last: window.last! });
      this.#windows.set(key, { start: now, count: 0, last: null });
    }
    return summaries;
  }

  /** When the next summary is due (null: nothing counted, no timer needed). */
  nextDue(): number | null {
    let next: number | null = null;
    for (const window of this.#windows.values()) {
      if (window.count > 0 && (next === null || window.start + this.#intervalMs < next)) next = window.start + this.#intervalMs;
    }
    return next;
  }

  /** Everything still counted, as summaries (on close: nothing counted goes unsaid). */
  flush(now: number): RepairSummary<T>[] {
    const counted = [...this.#windows].filter(([, w]) => w.count > 0);
    this.#windows.clear();
    return counted.map(([key, w]) => ({ key, count: w.count, sinceMs: now - w.start, last: w.last! }));
  }
}
