// The lifecycle: start the child on the held sockets, restart it by policy, stop it on request.
// The sockets are created before and removed after; they never change while children come and go.
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { ExitCode, RunError } from '../errors.js';
import { describeExit, shellStatus, signalName } from '../child/exit.js';
import { startChild, type ChildExit, type ChildPlan, type RunningChild } from '../child/process.js';
import type { Containment } from './containment.js';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';

export interface SupervisorOptions {
  child: ChildPlan;
  restart: RestartPolicyOptions;
  stopSignal: number;
  stopTimeoutMs: number;
  logger: Logger;
  /** reaps and kills what a child leaves in its process group; protects children if sockvisor dies */
  containment: Containment;
}

/** How long the workers of a child that died on its own get to finish before they are killed. */
const ORPHAN_GRACE_MS = 1000;

type State = 'idle' | 'running' | 'waiting' | 'stopping' | 'done';

/** Supervises one child at a time on sockets that outlive it. */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #policy: RestartPolicy;
  readonly #log: Logger;
  #state: State = 'idle';
  #child: RunningChild | null = null;
  #generation = 0;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  #resolveDone!: (status: number) => void;
  /** sockvisor's exit status once supervision is over */
  readonly done: Promise<number>;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#policy = new RestartPolicy(options.restart);
    this.#log = options.logger;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get childPid(): number | null {
    return this.#child?.pid ?? null;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Starts the first child; an exec failure here throws (exit 126/127) instead of retrying. */
  start(): void {
    if (this.#state !== 'idle') throw new Error('Supervisor.start() called twice');
    this.#spawn();
  }

  /** Stops the child (stop signal, then SIGKILL to its group after the timeout) and settles done with 0. */
  stop(reason: string): void {
    if (this.#state === 'done') return;
    if (this.#state === 'stopping') {
      this.#log.warn({ event: 'supervisor.escalate', reason }, 'second stop request: killing the child now');
      this.#killGroup();
      return;
    }
    this.#clearRestartTimer();
    this.#state = 'stopping';
    const child = this.#child;
    this.#log.info({ event: 'supervisor.stopping', reason, pid: child?.pid ?? null }, `stopping (${reason})`);
    if (!child) {
      this.#finish(ExitCode.ok);
      return;
    }
    const { stopSignal, stopTimeoutMs } = this.#options;
    child.signal(stopSignal);
    this.#log.info({ event: 'child.stop-signal', pid: child.pid, signal: signalName(stopSignal), timeoutMs: stopTimeoutMs }, `sent ${signalName(stopSignal)} to the child`);
    this.#killTimer = setTimeout(() => {
      this.#log.warn({ event: 'child.stop-timeout', pid: child.pid, timeoutMs: stopTimeoutMs }, 'the child did not stop in time: SIGKILL to its process group');
      this.#killGroup();
    }, stopTimeoutMs);
  }

  /** Passes a signal on to the running child (job control and reload signals). */
  forward(signo: number): void {
    const child = this.#child;
    if (!child || this.#state !== 'running') return;
    const error = child.signal(signo);
    this.#log.info({ event: 'child.signal-forwarded', pid: child.pid, signal: signalName(signo), error }, `forwarded ${signalName(signo)} to the child`);
  }

  #spawn(): void {
    const plan = this.#options.child;
    this.#generation++;
    let child: RunningChild;
    try {
      child = startChild(plan, (spawned) => this.#options.containment.adopt(spawned));
    } catch (error) {
      if (this.#generation === 1 || !(error instanceof RunError)) throw error;
      this.#log.error({ event: 'child.spawn-failed', err: error }, error.message);
      this.#onExit(null, { code: error.exitCode, signal: null, uptimeMs: 0 });
      return;
    }
    this.#child = child;
    this.#state = 'running';
    this.#log.info({ event: 'child.started', pid: child.pid, argv: plan.argv, generation: this.#generation }, `child started, pid ${child.pid}`);
    void child.exited.then((exit) => this.#onExit(child, exit));
  }

  #onExit(child: RunningChild | null, exit: ChildExit): void {
    if (child) {
      this.#log[this.#state === 'stopping' ? 'info' : 'warn'](
        {
          event: 'child.exited',
          pid: child.pid,
          code: exit.code,
          signal: exit.signal === null ? null : signalName(exit.signal),
          uptimeMs: Math.round(exit.uptimeMs),
          generation: this.#generation,
        },
        `child ${child.pid} ${describeExit(exit)} after ${formatDuration(exit.uptimeMs)}`,
      );
    }
    if (this.#child === child) this.#child = null;

    if (this.#state === 'stopping') {
      // Workers of the stopped server must not outlive the stop (uWSGI's master waits for them,
      // but a master that died leaves them orphaned): whatever is left in its group is killed
      // by pid before the stop is over. Its group id is not signalled now that it is reaped.
      if (!child) this.#finish(ExitCode.ok);
      else void this.#options.containment.settle(child.pid, 0).then(() => this.#finish(ExitCode.ok));
      return;
    }
    if (child) void this.#options.containment.settle(child.pid, ORPHAN_GRACE_MS);

    const decision = this.#policy.decide(exit, performance.now());
    if (decision.action === 'restart') {
      this.#state = 'waiting';
      this.#restarts++;
      this.#log.info({ event: 'child.restart', delayMs: decision.delayMs, quickExits: decision.quickExits, restarts: this.#restarts }, `restarting the child in ${decision.delayMs} ms`);
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = null;
        this.#spawn();
      }, decision.delayMs);
    } else if (decision.action === 'give-up') {
      this.#log.error(
        { event: 'supervisor.giving-up', quickExits: decision.quickExits, streakMs: Math.round(decision.streakMs) },
        `giving up: the child exited ${decision.quickExits} times in a row within ${formatDuration(decision.streakMs)}, each time sooner than the healthy threshold; read its output above, fix it, then start sockvisor again`,
      );
      this.#finish(ExitCode.gaveUp);
    } else {
      const status = shellStatus(exit);
      this.#log.info({ event: 'supervisor.child-done', reason: decision.reason, status }, `not restarting (--restart ${this.#options.restart.mode}); exiting with the child's status ${status}`);
      this.#finish(status);
    }
  }

  #killGroup(): void {
    this.#child?.signalGroup(constants.signals.SIGKILL);
  }

  #clearRestartTimer(): void {
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
  }

  #finish(status: number): void {
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#clearRestartTimer();
    this.#state = 'done';
    this.#resolveDone(status);
  }
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
