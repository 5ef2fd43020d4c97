// Keeping every process a child starts within sockvisor's reach, whatever dies first:
//  - the child's workers, when the child (a uWSGI master) dies: they become sockvisor's orphans
//    (it is a child subreaper) and are reaped, or killed by pid once a grace period is over;
//  - the child and its whole process group, when sockvisor is killed without stopping them:
//    sockvisor-guard does that (PR_SET_PDEATHSIG is lost once the child switches users itself).
// As PID 1 of a pid namespace no guard is needed: when PID 1 dies the kernel kills the namespace.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Guard } from './guard.js';
import type { NativeError, SpawnedProcess } from '../native.js';
import { Reaper } from './reaper.js';

/** How long, at most, emptying a finished child's process group may take (SIGKILL is quick). */
const EMPTY_GROUP_TIMEOUT_MS = 2000;

/** The reaper and the guard together, for the supervisor: adopt each child, settle it when it ends. */
export class Containment {
  readonly #log: Logger;
  readonly #reaper: Reaper;
  readonly #guard: Guard | null;
  readonly #closing = new AbortController();
  readonly #settling = new Set<Promise<void>>();

  private constructor(logger: Logger, reaper: Reaper, guard: Guard | null) {
    this.#log = logger;
    this.#reaper = reaper;
    this.#guard = guard;
  }

  /**
   * Becomes a child subreaper (unless reapOrphans is false: a library host that uses child_process)
   * and starts the guard; logs (never throws) what could not be set up.
   */
  static start(logger: Logger, options: { reapOrphans: boolean } = { reapOrphans: true }): Containment {
    const reaper = new Reaper(logger);
    try {
      if (options.reapOrphans) reaper.start();
    } catch (error) {
      logger.warn(
        { event: 'reaper.unavailable', err: error },
        `cannot become a child subreaper (${(error as NativeError).code}): workers left by a crashed child are not reaped by sockvisor`,
      );
    }
    const pid1 = process.pid === 1;
    if (pid1) logger.info({ event: 'supervisor.pid1' }, 'running as PID 1: reaping every orphan of the container');
    return new Containment(logger, reaper, pid1 ? null : Guard.start(logger));
  }

  /** Call right after spawn, before the child can switch users (which clears its parent-death signal). */
  adopt(child: SpawnedProcess): void {
    this.#guard?.protect(child);
  }

  /**
   * Call once the child (the leader of its process group) has been reaped: after graceMs (cut short
   * by close()), every process still in its group is SIGKILLed by pid, then the guard lets go.
   */
  settle(pid: number, graceMs: number): Promise<void> {
    const settling = this.#settle(pid, graceMs);
    this.#settling.add(settling);
    void settling.finally(() => this.#settling.delete(settling));
    return settling;
  }

  /** Settles what is pending at once, stops reaping and closes the guard (waiting for it to exit). */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all([...this.#settling]);
    this.#reaper.stop();
    await this.#guard?.close();
  }

  async #settle(pid: number, graceMs: number): Promise<void> {
    // uWSGI workers notice their master's death and exit on their own (about 10 ms when idle);
    // a busy one finishes its request first. The grace lets them; then they are killed.
    if (graceMs > 0 && !this.#closing.signal.aborted) {
      await delay(graceMs, undefined, { signal: this.#closing.signal }).catch(() => undefined);
    }
    const survivors = await this.#reaper.emptyGroup(pid, EMPTY_GROUP_TIMEOUT_MS);
    if (survivors.length > 0) {
      this.#log.warn(
        { event: 'child.group-survivors', pgid: pid, survivors },
        `process(es) ${survivors.join(', ')} of child ${pid}'s group survived SIGKILL for ${EMPTY_GROUP_TIMEOUT_MS / 1000} s`,
      );
    }
    this.#guard?.release(pid);
  }
}
