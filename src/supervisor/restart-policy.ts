// When to start the child again, and after how long: pure policy, no timers, no I/O.
//
// A run shorter than healthyAfterMs is a "quick exit". Quick exits in a row back off
// exponentially from initialDelayMs up to maxDelayMs; once they have gone on for giveUpAfterMs
// sockvisor gives up. A healthy run restarts at once and forgets the streak.
import { UsageError } from '../errors.js';

export type RestartMode = 'always' | 'on-failure' | 'never';
export const RESTART_MODES: readonly RestartMode[] = ['always', 'on-failure', 'never'];

export interface RestartPolicyOptions {
  mode: RestartMode;
  initialDelayMs: number;
  maxDelayMs: number;
  healthyAfterMs: number;
  /** 0: never give up */
  giveUpAfterMs: number;
}

export const defaultRestartPolicy: Readonly<RestartPolicyOptions> = {
  mode: 'always',
  initialDelayMs: 50,
  maxDelayMs: 5000,
  healthyAfterMs: 1000,
  giveUpAfterMs: 30000,
};

/** The exit as the policy sees it. */
export interface ExitFacts {
  code: number | null;
  signal: number | null;
  uptimeMs: number;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number; quickExits: number }
  | { action: 'give-up'; quickExits: number; streakMs: number }
  | { action: 'exit'; reason: 'never' | 'clean-exit' };

/** Capped doubling: firstMs for attempt 0, twice as long each attempt after, never over maxMs. */
export function backoffMs(firstMs: number, maxMs: number, attempt: number): number {
  return Math.min(firstMs * 2 ** attempt, maxMs);
}

/** Refuses option combinations that cannot mean anything. */
export function validateRestartOptions(options: RestartPolicyOptions): void {
  if (!RESTART_MODES.includes(options.mode)) {
    throw new UsageError(`--restart must be one of ${RESTART_MODES.join(', ')}, not '${options.mode}'.`);
  }
  if (options.maxDelayMs < options.initialDelayMs) {
    throw new UsageError(
      `--restart-delay-max (${options.maxDelayMs / 1000} s) is shorter than --restart-delay (${options.initialDelayMs / 1000} s): make the maximum at least the first delay.`,
    );
  }
}

/** Decides, exit by exit, whether and when the child starts again. */
export class RestartPolicy {
  readonly #options: RestartPolicyOptions;
  #quickExits = 0;
  /** when the first run of the current streak of quick exits started */
  #streakStart: number | null = null;

  constructor(options: RestartPolicyOptions) {
    this.#options = options;
  }

  /** now: a monotonic clock in ms (performance.now()), the moment of the exit. */
  decide(exit: ExitFacts, now: number): RestartDecision {
    const { mode, initialDelayMs, maxDelayMs, healthyAfterMs, giveUpAfterMs } = this.#options;
    if (mode === 'never') return { action: 'exit', reason: 'never' };
    if (mode === 'on-failure' && exit.signal === null && exit.code === 0) return { action: 'exit', reason: 'clean-exit' };

    if (exit.uptimeMs >= healthyAfterMs) {
      this.#quickExits = 0;
      this.#streakStart = null;
      return { action: 'restart', delayMs: 0, quickExits: 0 };
    }
    this.#quickExits++;
    this.#streakStart ??= now - exit.uptimeMs;
    const streakMs = now - this.#streakStart;
    if (giveUpAfterMs > 0 && streakMs >= giveUpAfterMs) {
      return { action: 'give-up', quickExits: this.#quickExits, streakMs };
    }
    const delayMs = backoffMs(initialDelayMs, maxDelayMs, this.#quickExits - 1);
    return { action: 'restart', delayMs, quickExits: this.#quickExits };
  }
}
