// What a run has done, in one place: fed the supervisor's log entries (the lifecycle's own account
// of every start, readiness, exit, restart and handover) and the healer's repairs, it keeps the
// figures `sockvisor status` and /metrics report. Pure bookkeeping: no timers, no I/O.
import { describeExit, signalName } from '../child/exit.js';
import type { ReadyReason } from '../supervisor/generation.js';
import type { LogEntry } from '../supervisor/lifecycle-log.js';

/** How many exits status remembers. */
export const LAST_EXITS = 10;

/** current: serves (or is starting to); candidate: started for a handover; retiring: drains after one. */
export type GenerationRole = 'current' | 'candidate' | 'retiring';

export interface GenerationStats {
  number: number;
  pid: number | null;
  role: GenerationRole;
  /** wall clock, ms since the epoch */
  startedAt: number;
  readyAt: number | null;
  readyHow: ReadyReason | null;
}

export interface ExitStats {
  generation: number;
  pid: number | null;
  at: number;
  /** a sentence: "exited with code 1", "was killed by SIGKILL" */
  reason: string;
  code: number | null;
  signal: number | null;
  uptimeMs: number;
  /** asked for (a stop, a drain, an abandoned candidate) rather than a crash or an unasked exit */
  expected: boolean;
}

/** done: the new child serves; abandoned: it exited, was not ready in time, or could not be started. */
export type HandoverResult = 'done' | 'abandoned';

export interface HandoverOutcome {
  result: HandoverResult;
  /** the sentence of the outcome, as logged */
  reason: string;
  durationMs: number | null;
  at: number;
  generation: number | null;
}

export interface StatsSnapshot {
  startedAt: number;
  generations: GenerationStats[];
  restarts: number;
  /** restarts by the kind of exit that caused them ("code 1", "SIGKILL") */
  restartsByReason: Record<string, number>;
  exits: ExitStats[];
  exitsTotal: number;
  /** unasked exits by their kind ("code 1", "SIGKILL") */
  exitsByReason: Record<string, number>;
  handovers: { done: number; abandoned: number; last: HandoverOutcome | null };
  /** the healer's repairs by action (permissions-restored, relinked, created, ...) */
  repairs: Record<string, number>;
}

/** Hears a handover's outcome (control socket: a reload that waits). */
export type HandoverListener = (outcome: HandoverOutcome) => void;

/** Keeps a run's figures from the supervisor's log entries and the healer's repairs. */
export class RunStats {
  readonly startedAt: number;
  readonly #now: () => number;
  readonly #monotonic: () => number;
  readonly #generations = new Map<number, GenerationStats>();
  #restarts = 0;
  readonly #restartsByReason: Record<string, number> = {};
  /** the kind of the last unasked exit: what a restart that follows is for */
  #lastExitKind = 'unknown';
  readonly #exits: ExitStats[] = [];
  #exitsTotal = 0;
  readonly #exitsByReason: Record<string, number> = {};
  readonly #handovers = { done: 0, abandoned: 0, last: null as HandoverOutcome | null };
  /** when the handover under way was asked for (monotonic ms), null when none */
  #handoverSince: number | null = null;
  readonly #repairs: Record<string, number> = {};
  readonly #listeners = new Set<HandoverListener>();
  readonly #entryListeners = new Set<(entry: LogEntry) => void>();

  constructor(clock: { now?: () => number; monotonic?: () => number } = {}) {
    this.#now = clock.now ?? Date.now;
    this.#monotonic = clock.monotonic ?? (() => performance.now());
    this.startedAt = this.#now();
  }

  /** One of the supervisor's log entries (SupervisorOptions.onLog). */
  record(entry: LogEntry): void {
    this.#apply(entry);
    for (const listener of this.#entryListeners) listener(entry);
  }

  /** One repair the healer made (HealerOptions.onRepair). */
  recordRepair(action: string): void {
    this.#repairs[action] = (this.#repairs[action] ?? 0) + 1;
  }

  /** Calls listener with every handover outcome until the returned function is called. */
  onHandover(listener: HandoverListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls listener with every log entry until the returned function is called. */
  onEntry(listener: (entry: LogEntry) => void): () => void {
    this.#entryListeners.add(listener);
    return () => this.#entryListeners.delete(listener);
  }

  get handoverUnderWay(): boolean {
    return this.#handoverSince !== null;
  }

  snapshot(): StatsSnapshot {
    return {
      startedAt: this.startedAt,
      generations: [...this.#generations.values()].map((g) => ({ ...g })),
      restarts: this.#restarts,
      restartsByReason: { ...this.#restartsByReason },
      exits: this.#exits.map((e) => ({ ...e })),
      exitsTotal: this.#exitsTotal,
      exitsByReason: { ...this.#exitsByReason },
      handovers: { ...this.#handovers },
      repairs: { ...this.#repairs },
    };
  }

  #apply(entry: LogEntry): void {
    switch (entry.what) {
      case 'reload':
      case 'replan':
        // A reload asked for during a handover is queued: the duration counts from the first ask.
        this.#handoverSince ??= this.#monotonic();
        return;
      case 'started':
        this.#generations.set(entry.generation, {
          number: entry.generation,
          pid: entry.pid,
          role: entry.role,
          startedAt: this.#now(),
          readyAt: null,
          readyHow: null,
        });
        return;
      case 'ready': {
        const g = this.#generations.get(entry.generation);
        if (g) Object.assign(g, { readyAt: this.#now(), readyHow: entry.how });
        return;
      }
      case 'handed-over':
        for (const g of this.#generations.values()) {
          if (g.number === entry.generation) g.role = 'current';
          else if (g.role === 'current') g.role = 'retiring';
        }
        return this.#handoverEnded('done', `child ${entry.pid} serves`, entry.generation);
      case 'took-over-early': {
        const g = this.#generations.get(entry.generation);
        if (g) g.role = 'current';
        return this.#handoverEnded('done', `the current child exited; child ${entry.pid} took over before it was ready`, entry.generation);
      }
      case 'drain-signal': {
        const g = this.#generations.get(entry.generation);
        if (g) g.role = 'retiring';
        return;
      }
      case 'handover-failed': {
        const why = entry.reason === 'timeout' ? 'was not ready within --handover-timeout' : 'exited before it was ready';
        const exit = entry.exit ? ` (${describeExit(entry.exit)})` : '';
        return this.#handoverEnded(
          'abandoned',
          `handover abandoned: the new child of generation ${entry.generation} ${why}${exit}; the current child ${entry.pid} keeps serving`,
          entry.generation,
        );
      }
      case 'candidate-spawn-failed':
        return this.#handoverEnded(
          'abandoned',
          'handover abandoned: the new child could not be started; the current one keeps serving',
          null,
        );
      case 'exited':
        return this.#exited(entry);
      case 'restart':
        this.#restarts = entry.restarts;
        this.#restartsByReason[this.#lastExitKind] = (this.#restartsByReason[this.#lastExitKind] ?? 0) + 1;
        return;
      default:
        return;
    }
  }

  #exited(entry: Extract<LogEntry, { what: 'exited' }>): void {
    this.#generations.delete(entry.generation);
    const { exit } = entry;
    this.#exits.push({
      generation: entry.generation,
      pid: entry.pid,
      at: this.#now(),
      reason: describeExit(exit),
      code: exit.code,
      signal: exit.signal,
      uptimeMs: Math.round(exit.uptimeMs),
      expected: entry.expected,
    });
    if (this.#exits.length > LAST_EXITS) this.#exits.shift();
    this.#exitsTotal++;
    if (!entry.expected) {
      const kind = exit.signal !== null ? signalName(exit.signal) : `code ${exit.code ?? 'unknown'}`;
      this.#exitsByReason[kind] = (this.#exitsByReason[kind] ?? 0) + 1;
      this.#lastExitKind = kind;
    }
  }

  #handoverEnded(result: HandoverResult, reason: string, generation: number | null): void {
    const since = this.#handoverSince;
    this.#handoverSince = null;
    const outcome: HandoverOutcome = {
      result,
      reason,
      durationMs: since === null ? null : Math.round(this.#monotonic() - since),
      at: this.#now(),
      generation,
    };
    this.#handovers[result]++;
    this.#handovers.last = outcome;
    for (const listener of this.#listeners) listener(outcome);
  }
}
