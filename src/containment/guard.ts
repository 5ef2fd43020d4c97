// sockvisor-guard (native/guard.cc): the small process that kills sockvisor's children, process
// group and all, when sockvisor itself is killed without stopping them (kill -9, the OOM killer).
// PR_SET_PDEATHSIG alone does not do it: the kernel clears it when the child changes credentials,
// and uWSGI with --uid/--gid does so itself after its start (see native/guard.cc for the options
// weighed). The guard learns of each child right after spawn and forgets it once its group is done.
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import {
  closeFd,
  duplicateFd,
  guardExecutable,
  guardProtect,
  guardRelease,
  openGuardChannel,
  spawn,
  watchChild,
  type ChildWatch,
  type GuardChannel,
  type NativeError,
  type NativeExit,
  type SpawnedProcess,
} from '../native.js';

/** The guard answers a PROTECT after one fork() and one setpgid(): a second is far more than enough. */
const ANSWER_TIMEOUT_MS = 1000;
/** At exit, how long to wait for the guard to reap its pins and exit (it does so at once). */
const EXIT_WAIT_MS = 1000;
/** A guard that dies this often unasked is given up on (something keeps killing it). */
const MAX_RESTARTS = 3;

interface GuardProcess {
  pid: number;
  channel: number;
  watch: ChildWatch;
  exited: Promise<NativeExit>;
}

/** Protects children against sockvisor's own sudden death; every method only logs on failure. */
export class Guard {
  readonly #log: Logger;
  readonly #file: string;
  #process: GuardProcess | null = null;
  /** protected children: pid -> sockvisor's own copy of its pidfd (to protect it again with a new guard) */
  readonly #children = new Map<number, number>();
  #restarts = 0;
  #closed = false;

  private constructor(file: string, logger: Logger) {
    this.#file = file;
    this.#log = logger;
  }

  /** Starts sockvisor-guard; null (with a warning) when it is not built or cannot start. */
  static start(logger: Logger): Guard | null {
    const file = guardExecutable();
    if (!file) {
      logger.warn(
        { event: 'guard.missing' },
        "sockvisor-guard is not built (run 'npm run build'): children that switch users themselves (uWSGI --uid) will outlive a kill -9 of sockvisor",
      );
      return null;
    }
    const guard = new Guard(file, logger);
    return guard.#launch() ? guard : null;
  }

  /** Hands the child's pidfd to the guard; call right after spawn, before the child can drop privileges. */
  protect(child: SpawnedProcess): void {
    if (this.#closed) return;
    let pidfd: number;
    try {
      pidfd = duplicateFd(child.pidfd);
    } catch (error) {
      this.#log.warn(
        { event: 'guard.protect-failed', pid: child.pid, err: error },
        `child ${child.pid} is not protected by sockvisor-guard (${(error as NativeError).code})`,
      );
      return;
    }
    this.#children.set(child.pid, pidfd);
    this.#send(child.pid, pidfd);
  }

  /** The child and everything in its process group are gone: the guard lets go of them. */
  release(pid: number): void {
    const pidfd = this.#children.get(pid);
    if (pidfd === undefined) return;
    this.#children.delete(pid);
    closeFd(pidfd);
    if (this.#process) {
      const error = guardRelease(this.#process.channel, pid);
      if (error)
        this.#log.debug(
          { event: 'guard.release-failed', pid, error },
          `could not tell sockvisor-guard that child ${pid} is gone (${error})`,
        );
    }
  }

  /** Closes sockvisor's end (the guard kills what is still protected, normally nothing) and waits for the guard. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const pidfd of this.#children.values()) closeFd(pidfd);
    this.#children.clear();
    const guard = this.#process;
    if (!guard) return;
    closeFd(guard.channel);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([guard.exited, new Promise((resolve) => (timer = setTimeout(resolve, EXIT_WAIT_MS)))]);
    clearTimeout(timer);
  }

  #launch(): boolean {
    let channel: GuardChannel | undefined;
    let devNull: number | undefined;
    let spawned: SpawnedProcess;
    try {
      channel = openGuardChannel();
      devNull = openSync('/dev/null', 'r+');
      // Its own process group, so that ^C on a terminal (SIGINT to the foreground group) does not
      // reach it; no parent-death signal: it must outlive sockvisor to do its job.
      spawned = spawn({
        file: this.#file,
        argv: ['sockvisor-guard'],
        envp: [],
        fds: [channel.guards, devNull, devNull],
        listenPid: false,
        pdeathsig: 0,
        processGroup: true,
        cwd: '/',
      });
    } catch (error) {
      if (channel) closeFd(channel.ours);
      this.#log.warn(
        { event: 'guard.start-failed', err: error },
        `sockvisor-guard could not start (${(error as NativeError).code}): children that switch users themselves (uWSGI --uid) will outlive a kill -9 of sockvisor`,
      );
      return false;
    } finally {
      if (channel) closeFd(channel.guards);
      if (devNull !== undefined) closeSync(devNull);
    }
    let resolveExit!: (exit: NativeExit) => void;
    const exited = new Promise<NativeExit>((resolve) => (resolveExit = resolve));
    const guard: GuardProcess = { pid: spawned.pid, channel: channel.ours, watch: watchChild(spawned, resolveExit), exited };
    this.#process = guard;
    this.#log.debug({ event: 'guard.started', guardPid: spawned.pid }, `sockvisor-guard started, pid ${spawned.pid}`);
    void exited.then((exit) => this.#onExit(guard, exit));
    for (const [pid, pidfd] of this.#children) this.#send(pid, pidfd);
    return true;
  }

  #send(pid: number, pidfd: number): void {
    const guard = this.#process;
    if (!guard) return;
    try {
      const answer = guardProtect(guard.channel, pid, pidfd, ANSWER_TIMEOUT_MS);
      this.#log.debug(
        { event: 'guard.protected', pid, pinned: answer.pinned, error: answer.error },
        `sockvisor-guard protects child ${pid}${answer.pinned ? ' and its process group' : ` (not its process group: ${answer.error})`}`,
      );
    } catch (error) {
      this.#log.warn(
        { event: 'guard.unresponsive', guardPid: guard.pid, err: error },
        `sockvisor-guard (pid ${guard.pid}) did not answer (${(error as NativeError).code}): starting a new one`,
      );
      this.#replace(guard);
    }
  }

  #onExit(guard: GuardProcess, exit: NativeExit): void {
    if (this.#closed || this.#process !== guard) return;
    this.#log.warn(
      { event: 'guard.exited', guardPid: guard.pid, code: exit.code, signal: exit.signal },
      `sockvisor-guard (pid ${guard.pid}) ended unasked: starting a new one`,
    );
    this.#replace(guard);
  }

  #replace(guard: GuardProcess): void {
    if (this.#process !== guard) return;
    this.#process = null;
    // A guard that stopped answering must die before its channel closes: at EOF it would kill the
    // children it protects. After SIGKILL is sent it runs no more code; its pins die with it.
    guard.watch.signal(constants.signals.SIGKILL);
    closeFd(guard.channel);
    if (++this.#restarts > MAX_RESTARTS) {
      this.#log.error(
        { event: 'guard.given-up', restarts: this.#restarts - 1 },
        'sockvisor-guard keeps dying: children that switch users themselves (uWSGI --uid) will outlive a kill -9 of sockvisor',
      );
      return;
    }
    this.#launch();
  }
}
