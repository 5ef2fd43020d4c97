// When to start the child again, and after how long: pure policy, no timers, no I/O.
//
// A run shorter than healthyAfterMs is a "quick exit". Quick exits in a row back off
// exponentially from initialDelayMs up to maxDelayMs; once they have gone on for giveUpAfterMs
// sockvisor gives up. A healthy run restarts at once and forgets the streak.
import { UsageError } from '../errors.js';
import { defaultChoice, defaultNumber, RESTART_MODES, type RestartMode } from '../config/options.js';

export { RESTART_MODES, type RestartMode } from '../config/options.js';

export interface RestartPolicyOptions {
  mode: RestartMode;
  initialDelayMs: number;
  maxDelayMs: number;
  healthyAfterMs: number;
  /** 0: never give up */
  giveUpAfterMs: number;
}

/** The policy when no option says otherwise: the defaults of --restart, --restart-delay(-max), --healthy-after, --give-up-after. */
export const defaultRestartPolicy: Readonly<RestartPolicyOptions> = {
  mode: defaultChoice<RestartMode>('restart'),
  initialDelayMs: Math.round(defaultNumber('restartDelay') * 1000),
  maxDelayMs: Math.round(defaultNumber('restartDelayMax') * 1000),
  healthyAfterMs: Math.round(defaultNumber('healthyAfter') * 1000),
  giveUpAfterMs: Math.round(defaultNumber('giveUpAfter') * 1000),
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

/** The streak of quick exits so far: all the policy remembers between exits. */
export interface RestartStreak {
  readonly quickExits: number;
  /** when the first run of the current streak of quick exits started */
  readonly startedAt: number | null;
}

export const noStreak: RestartStreak = { quickExits: 0, startedAt: null };

/** Decides whether and when the child starts again after this exit; now: a monotonic clock in ms, the moment of the exit. */
export function decideRestart(
  options: RestartPolicyOptions,
  streak: RestartStreak,
  exit: ExitFacts,
  now: number,
): { streak: RestartStreak; decision: RestartDecision } {
  const { mode, initialDelayMs, maxDelayMs, healthyAfterMs, giveUpAfterMs } = options;
  if (mode === 'never') return { streak, decision: { action: 'exit', reason: 'never' } };
  if (mode === 'on-failure' && exit.signal === null && exit.code === 0) {
    return { streak, decision: { action: 'exit', reason: 'clean-exit' } };
  }

  if (exit.uptimeMs >= healthyAfterMs) return { streak: noStreak, decision: { action: 'restart', delayMs: 0, quickExits: 0 } };
  const startedAt = streak.startedAt ?? now - exit.uptimeMs;
  const next: RestartStreak = { quickExits: streak.quickExits + 1, startedAt };
  const streakMs = now - startedAt;
  if (giveUpAfterMs > 0 && streakMs >= giveUpAfterMs) {
    return { streak: next, decision: { action: 'give-up', quickExits: next.quickExits, streakMs } };
  }
  const delayMs = backoffMs(initialDelayMs, maxDelayMs, next.quickExits - 1);
  return { streak: next, decision: { action: 'restart', delayMs, quickExits: next.quickExits } };
}
