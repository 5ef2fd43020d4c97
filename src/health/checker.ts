// The health check's schedule: every interval, while the current child is ready, one probe; after
// `failures` failed probes in a row of the same child, it is replaced by a handover (reload): the
// new child serves once ready, the silent one gets the drain signal and SIGKILL after --stop-timeout.
import type { Logger } from 'pino';
import type { ProbeResult } from './probe.js';

export interface HealthSettings {
  intervalMs: number;
  timeoutMs: number;
  /** failed probes in a row that replace the child */
  failures: number;
}

/** The failures counted so far, and for which child. */
export interface HealthTally {
  pid: number | null;
  failures: number;
  /** this child answered at least once */
  answered: boolean;
  /** children replaced in a row that had never answered a probe */
  fruitless: number;
}

export const initialTally: HealthTally = { pid: null, failures: 0, answered: false, fruitless: 0 };

/**
 * replace: the child failed `limit` probes in a row. hold: so did it and the child replaced before
 * it, neither ever having answered: the probe itself is more likely wrong (http: on a uwsgi
 * socket, a path that never answers) than every child hung, and replacing again would only loop.
 */
export type TallyAction = 'none' | 'replace' | 'hold';

/** Counts one probe of child pid: a new child starts from 0; replace once `limit` failures are in a row. */
export function tallyProbe(tally: HealthTally, pid: number, ok: boolean, limit: number): { tally: HealthTally; action: TallyAction } {
  const current = tally.pid === pid ? tally : { ...initialTally, pid, fruitless: tally.fruitless };
  if (ok) return { tally: { pid, failures: 0, answered: true, fruitless: 0 }, action: 'none' };
  const failures = current.failures + 1;
  if (failures < limit) return { tally: { ...current, failures }, action: 'none' };
  if (!current.answered && current.fruitless > 0) return { tally: { ...current, failures: 0 }, action: 'hold' };
  return { tally: { ...current, failures: 0, fruitless: current.answered ? 0 : current.fruitless + 1 }, action: 'replace' };
}

export interface HealthCheckerOptions extends HealthSettings {
  /** what is probed, for the log: uwsgi:/health on /run/app/app.sock */
  what: string;
  probe: () => Promise<ProbeResult>;
  /** the current child when it is ready to be probed (not starting, reloading, restarting or stopping) */
  readyPid: () => number | null;
  /** replaces the child: the supervisor's reload */
  replace: (reason: string) => void;
  logger: Logger;
}

/** Probes on a timer until close(). */
export class HealthChecker {
  readonly #options: HealthCheckerOptions;
  #tally: HealthTally = initialTally;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** the cause of the last probe that could not reach the child, logged once */
  #lastUnusable: string | null = null;

  private constructor(options: HealthCheckerOptions) {
    this.#options = options;
  }

  static start(options: HealthCheckerOptions): HealthChecker {
    const checker = new HealthChecker(options);
    checker.#schedule();
    return checker;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#check(), this.#options.intervalMs);
  }

  async #check(): Promise<void> {
    const { readyPid, probe, failures: limit, logger, what } = this.#options;
    const pid = readyPid();
    if (pid === null) {
      this.#schedule();
      return;
    }
    const result = await probe();
    // A handover, restart or stop meanwhile: the answer is about a child that is no longer current.
    if (this.#closed || readyPid() !== pid) {
      this.#schedule();
      return;
    }
    if (result.ok === null) {
      // Said once per cause: probing goes on, and a child that then fails is still caught.
      if (result.reason !== this.#lastUnusable) {
        const hint = /EACCES|EPERM/.test(result.reason)
          ? "; sockvisor's user needs write permission on the socket to probe it (run sockvisor as root, or give its user access)"
          : '';
        logger.warn(
          { event: 'health.unusable', pid, reason: result.reason },
          `health check ${what} could not reach child ${pid} (${result.reason}): not counted against it${hint}`,
        );
      }
      this.#lastUnusable = result.reason;
      this.#schedule();
      return;
    }
    this.#lastUnusable = null;
    const { tally, action } = tallyProbe(this.#tally, pid, result.ok, limit);
    const failures = result.ok ? 0 : action === 'none' ? tally.failures : limit;
    this.#tally = tally;
    if (result.ok) {
      const ms = Math.round(result.ms);
      logger.debug({ event: 'health.ok', pid, ms }, `health check of child ${pid} answered in ${ms} ms`);
    } else {
      logger.warn(
        { event: 'health.failed', pid, reason: result.reason, failures, limit },
        `health check ${what} of child ${pid} failed (${result.reason}): ${failures} of ${limit} in a row`,
      );
    }
    if (action === 'hold') {
      logger.error(
        { event: 'health.hold', pid, failures: limit },
        `not replacing the child ${pid}: neither it nor the child it replaced ever answered the health check ${what}, ` +
          "so the check itself is likely wrong: use uwsgi:/PATH for uWSGI's --socket and http:/PATH for --http-socket, " +
          'and a PATH that answers within --health-timeout',
      );
    } else if (action === 'replace') {
      const why = result.ok ? 'answered' : result.reason;
      const reason = `the child ${pid} failed ${limit} health checks in a row (${what}: ${why}); it is hung or overloaded`;
      logger.warn({ event: 'health.replace', pid, failures: limit }, `replacing the child: ${reason}`);
      this.#options.replace(reason);
    }
    this.#schedule();
  }
}
