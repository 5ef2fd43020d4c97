// Orphans: processes whose parent died below sockvisor. sockvisor makes itself a child subreaper
// (PID 1 of a container is one by nature), so they become its children: the workers of a uWSGI
// master killed with -9, a grandchild a shell left behind. They must be reaped here or stay
// zombies, and the ones still in a finished child's process group are killed here, by pid.
//
// Reaping children that are not our own is safe under two rules, which the rest of sockvisor keeps:
//  1. sockvisor's own children are watched by pidfd and reaped by their ChildWatch
//     (native/child_watch.cc) alone: this reaper reaps one pid at a time, never waitpid(-1), and skips
//     (and the addon refuses) every pid a ChildWatch owns.
//  2. sockvisor starts nothing through Node's child_process. libuv would then wait for those
//     children by pid on SIGCHLD, and this reaper, not knowing them, would steal their exit
//     statuses. Node installs no SIGCHLD reaping of its own unless child_process is used.
// Signalling an orphan by pid is safe too: until it is reaped its pid cannot be reused, and all
// reaping happens on this one thread. A group id is never signalled once its leader is reaped:
// it could have been reused by then.
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { describeExit } from '../child/exit.js';
import { isWatchedChild, reapOrphan, setChildSubreaper, signalOrphan, type NativeError } from '../native.js';

/** While a group is being emptied, orphans are also looked for at this interval (SIGCHLD is the main trigger). */
const SWEEP_POLL_MS = 100;

interface Sweep {
  resolve: (survivors: number[]) => void;
  timer: NodeJS.Timeout;
}

/** The pids of sockvisor's children, from every thread's children list (proc(5), /proc/PID/task/TID/children). */
function ownChildren(): number[] {
  const pids: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      for (const pid of readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (pid !== '') pids.push(Number(pid));
      }
    } catch {
      // the thread ended meanwhile
    }
  }
  return pids;
}

/** The process group of pid (field 5 of /proc/PID/stat; a zombie keeps its own), null when unreadable. */
function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

/** Reaps every orphan on SIGCHLD and empties the process groups of finished children. */
export class Reaper {
  readonly #log: Logger;
  readonly #onSigchld = (): void => this.#collect();
  /** process groups whose orphans are killed on sight, with whoever waits for them to be empty */
  readonly #sweeps = new Map<number, Sweep[]>();
  /** orphans already sent SIGKILL, not yet reaped: killed and logged once */
  readonly #killed = new Set<number>();
  #poll: NodeJS.Timeout | null = null;
  #started = false;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** Becomes a child subreaper and reaps orphans from now on; throws a NativeError if prctl fails. */
  start(): void {
    if (this.#started) return;
    setChildSubreaper();
    process.on('SIGCHLD', this.#onSigchld);
    this.#started = true;
    this.#collect();
  }

  /** Stops listening for SIGCHLD; groups still being emptied are settled with what is left. */
  stop(): void {
    if (!this.#started) return;
    process.off('SIGCHLD', this.#onSigchld);
    this.#started = false;
    for (const pgid of [...this.#sweeps.keys()]) this.#settle(pgid, this.#liveOrphansIn(pgid));
  }

  /**
   * SIGKILLs, by pid, every orphan in process group pgid, and those they leave behind in turn;
   * resolves with the survivors once none is left (an empty list) or after timeoutMs.
   */
  emptyGroup(pgid: number, timeoutMs: number): Promise<number[]> {
    if (!this.#started) return Promise.resolve([]);
    return new Promise((resolve) => {
      const sweep: Sweep = { resolve, timer: setTimeout(() => this.#settle(pgid, this.#liveOrphansIn(pgid), sweep), timeoutMs) };
      this.#sweeps.set(pgid, [...(this.#sweeps.get(pgid) ?? []), sweep]);
      this.#poll ??= setInterval(() => this.#collect(), SWEEP_POLL_MS);
      this.#collect();
    });
  }

  /** One pass over our children: reap the exited orphans, kill the live ones in swept groups. */
  #collect(): void {
    const live = new Map<number, number[]>();
    for (const pid of this.#orphans()) {
      let exit;
      try {
        exit = reapOrphan(pid);
      } catch (error) {
        this.#log.debug(
          { event: 'orphan.reap-failed', orphan: pid, err: error },
          `could not reap orphan ${pid} (${(error as NativeError).code})`,
        );
        continue;
      }
      if (exit) {
        this.#killed.delete(pid);
        this.#log.debug(
          { event: 'orphan.reaped', orphan: pid, code: exit.code, signal: exit.signal },
          `reaped orphan ${pid}, which ${describeExit(exit)}`,
        );
        continue;
      }
      // Only orphans of a group being emptied are killed: no /proc read while none is.
      if (this.#sweeps.size === 0) continue;
      const pgid = processGroupOf(pid);
      if (pgid === null || !this.#sweeps.has(pgid)) continue;
      live.set(pgid, [...(live.get(pgid) ?? []), pid]);
      if (this.#killed.has(pid)) continue;
      this.#killed.add(pid);
      const error = signalOrphan(pid, constants.signals.SIGKILL);
      this.#log.info(
        { event: 'orphan.killed', orphan: pid, pgid, error },
        `killed process ${pid}, left over in the process group of finished child ${pgid}`,
      );
    }
    for (const pgid of [...this.#sweeps.keys()]) {
      if (!live.has(pgid)) this.#settle(pgid, []);
    }
  }

  #orphans(): number[] {
    try {
      return ownChildren().filter((pid) => !isWatchedChild(pid));
    } catch (error) {
      this.#log.debug({ event: 'orphan.list-failed', err: error }, 'cannot list child processes in /proc');
      return [];
    }
  }

  #liveOrphansIn(pgid: number): number[] {
    return this.#orphans().filter((pid) => processGroupOf(pid) === pgid);
  }

  /** Resolves one sweep (or all of a group's) and forgets the group once nobody waits on it. */
  #settle(pgid: number, survivors: number[], only?: Sweep): void {
    const sweeps = this.#sweeps.get(pgid) ?? [];
    const settling = only ? sweeps.filter((s) => s === only) : sweeps;
    const rest = sweeps.filter((s) => !settling.includes(s));
    if (rest.length > 0) this.#sweeps.set(pgid, rest);
    else this.#sweeps.delete(pgid);
    for (const sweep of settling) {
      clearTimeout(sweep.timer);
      sweep.resolve(survivors);
    }
    if (this.#sweeps.size === 0 && this.#poll) {
      clearInterval(this.#poll);
      this.#poll = null;
    }
  }
}
