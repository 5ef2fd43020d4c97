// The lifecycle: start the child on the held sockets, restart it by policy, hand over to a new one
// on reload, stop it on request. The sockets are created before and removed after; they never
// change while generations of children come and go.
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { ExitCode, RunError } from '../errors.js';
import { describeExit, shellStatus, signalName } from '../child/exit.js';
import type { ChildExit, ChildPlan } from '../child/process.js';
import type { Containment } from './containment.js';
import { Generation, type ReadyReason } from './generation.js';
import { handoverStep, inHandover, initialHandoverState, liveGenerations, type HandoverEffect, type HandoverEvent, type HandoverState } from './handover.js';
import { backoffMs, RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';

/** How children are supervised: the part of a run's plan the supervisor takes as it is. */
export interface SupervisionSettings {
  restart: RestartPolicyOptions;
  stopSignal: number;
  stopTimeoutMs: number;
  /** makes an old generation finish its in-flight requests and exit (handover) */
  drainSignal: number;
  /** a child silent on its NOTIFY_SOCKET this long is taken as ready; null: only READY=1 counts (uWSGI always sends it) */
  readyAfterMs: number | null;
  /** how long a reload's new child gets to become ready before it is dropped */
  handoverTimeoutMs: number;
}

export interface SupervisorOptions extends SupervisionSettings {
  child: ChildPlan;
  logger: Logger;
  /** reaps and kills what a child leaves in its process group; protects children if sockvisor dies */
  containment: Containment;
  /** told after every change of phase, pid, readiness or status (systemd notification) */
  onStatus?: (status: SupervisorStatus) => void;
}

/** What sockvisor is doing, as systemd and logs report it. */
export interface SupervisorStatus {
  /** starting: the current child is not ready yet; reloading: a handover is under way */
  phase: 'starting' | 'ready' | 'reloading' | 'restarting' | 'stopping';
  /** the current child is ready: the watchdog is answered only then */
  healthy: boolean;
  pid: number | null;
  generation: number | null;
  restarts: number;
  /** the current child's own STATUS= line */
  childStatus: string | null;
}

/** How long the workers of a child that died on its own get to finish before they are killed. */
const ORPHAN_GRACE_MS = 1000;

/** Retries of a handover to a new plan (a socket made anew): 1 s, doubling, at most 30 s apart. */
const PLAN_RETRY_FIRST_MS = 1000;
const PLAN_RETRY_MAX_MS = 30_000;

type State = 'idle' | 'running' | 'waiting' | 'stopping' | 'done';

/** The supervisor's timers: the pending restart, the candidate's readiness, the plan retry; a number is that generation's SIGKILL. */
type TimerKey = 'restart' | 'handover' | 'plan-retry' | number;

/** Supervises the current generation (and, during a handover, the next and the retiring ones). */
export class Supervisor {
  readonly #options: SupervisorOptions;
  /** what new generations are started with: options.child until a socket is made anew (replacePlan) */
  #plan: ChildPlan;
  /** why the plan was last replaced, for the log */
  #planReason = '';
  #planRetries = 0;
  readonly #fdWaiters: { fd: number; resolve: () => void }[] = [];
  readonly #policy: RestartPolicy;
  readonly #log: Logger;
  #state: State = 'idle';
  #handover: HandoverState = initialHandoverState;
  readonly #generations = new Map<number, Generation>();
  #lastGeneration = 0;
  #restarts = 0;
  /** only armed timers: each removes itself when it fires */
  readonly #timers = new Map<TimerKey, NodeJS.Timeout>();
  #resolveDone!: (status: number) => void;
  /** sockvisor's exit status once supervision is over */
  readonly done: Promise<number>;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#plan = options.child;
    this.#policy = new RestartPolicy(options.restart);
    this.#log = options.logger;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get #current(): Generation | null {
    return this.#handover.current === null ? null : (this.#generations.get(this.#handover.current) ?? null);
  }

  get childPid(): number | null {
    return this.#current?.pid ?? null;
  }

  /** A snapshot for systemd's STATUS= and the watchdog. */
  get status(): SupervisorStatus {
    const current = this.#current;
    const phase: SupervisorStatus['phase'] =
      this.#state === 'stopping' || this.#state === 'done'
        ? 'stopping'
        : inHandover(this.#handover)
          ? 'reloading'
          : current === null
            ? 'restarting'
            : current.ready
              ? 'ready'
              : 'starting';
    return {
      phase,
      healthy: current?.ready ?? false,
      pid: current?.pid ?? null,
      generation: current?.number ?? null,
      restarts: this.#restarts,
      childStatus: current?.status ?? null,
    };
  }

  /** Starts the first child; an exec failure here throws (exit 126/127) instead of retrying. */
  start(): void {
    if (this.#state !== 'idle') throw new Error('Supervisor.start() called twice');
    this.#startCurrent();
  }

  /**
   * A handover: a new child on the same sockets; once it is ready the current one drains and
   * exits. Not ready within handoverTimeoutMs, or exited: it is stopped and the current one stays.
   */
  reload(reason: string): void {
    if (this.#state !== 'running' && this.#state !== 'waiting') return;
    this.#log.info({ event: 'supervisor.reload', reason }, `reload requested (${reason})`);
    this.#dispatch({ type: 'reload' });
  }

  /**
   * Starts every later generation with `plan` (a socket made anew at its path has another fd in
   * sockvisor; the child still gets it at the same fd number) and hands over to one now. If that
   * handover fails, it is tried again, 1 s later, then doubling up to 30 s, until a generation
   * started with the new plan serves.
   */
  replacePlan(plan: ChildPlan, reason: string): void {
    this.#plan = plan;
    this.#planReason = reason;
    this.#planRetries = 0;
    this.#clearTimer('plan-retry');
    this.#settleFdWaiters();
    if (this.#state !== 'running' && this.#state !== 'waiting') return;
    this.#log.info({ event: 'supervisor.reload', reason }, `handing over to a new child (${reason})`);
    this.#dispatch({ type: 'reload' });
  }

  /**
   * Settles once no running generation was started with fd and the plan no longer has it (or
   * supervision is over): then sockvisor's copy of an old socket can be closed.
   */
  whenFdUnused(fd: number): Promise<void> {
    return new Promise((resolve) => {
      this.#fdWaiters.push({ fd, resolve });
      this.#settleFdWaiters();
    });
  }

  /** Stops every child (stop signal, then SIGKILL to its group after the timeout) and settles done with 0. */
  stop(reason: string): void {
    if (this.#state === 'done') return;
    if (this.#state === 'stopping') {
      this.#log.warn({ event: 'supervisor.escalate', reason }, 'second stop request: killing the children now');
      for (const g of this.#generations.values()) g.child.signalGroup(constants.signals.SIGKILL);
      return;
    }
    this.#clearTimer('restart');
    this.#clearTimer('handover');
    this.#clearTimer('plan-retry');
    this.#state = 'stopping';
    const { stopSignal } = this.#options;
    const current = this.#current;
    this.#log.info({ event: 'supervisor.stopping', reason, pid: current?.pid ?? null }, `stopping (${reason})`);
    this.#report();
    if (this.#generations.size === 0) {
      this.#finish(ExitCode.ok);
      return;
    }
    // Retiring generations already got the drain signal and their own kill timer.
    for (const number of [this.#handover.current, this.#handover.candidate]) {
      const g = number === null ? undefined : this.#generations.get(number);
      if (!g) continue;
      g.child.signal(stopSignal);
      this.#log.info({ event: 'child.stop-signal', pid: g.pid, signal: signalName(stopSignal), timeoutMs: this.#options.stopTimeoutMs }, `sent ${signalName(stopSignal)} to the child ${g.pid}`);
      this.#armKill(g, 'child.stop-timeout', 'the child did not stop in time');
    }
  }

  /** Passes a signal on to the current child (job control signals). */
  forward(signo: number): void {
    const current = this.#current;
    if (!current || this.#state !== 'running') return;
    const error = current.child.signal(signo);
    this.#log.info({ event: 'child.signal-forwarded', pid: current.pid, signal: signalName(signo), error }, `forwarded ${signalName(signo)} to the child`);
  }

  /** Starts a generation; null when it could not be started (logged). The very first failure throws. */
  #startGeneration(role: 'current' | 'candidate'): Generation | null {
    const number = ++this.#lastGeneration;
    const plan = this.#plan;
    let generation: Generation;
    try {
      generation = new Generation({
        plan,
        number,
        readyAfterMs: this.#options.readyAfterMs,
        logger: this.#log,
        // Before the child can switch users (which clears its parent-death signal): the guard.
        onSpawned: (spawned) => this.#options.containment.adopt(spawned),
        events: {
          onReady: (g, how) => this.#onReady(g, how),
          onStatus: () => this.#report(),
          onExit: (g, exit) => this.#onExit(g, exit),
        },
      });
    } catch (error) {
      if (number === 1 || !(error instanceof RunError)) throw error;
      this.#log.error({ event: 'child.spawn-failed', err: error, generation: number, role }, error.message);
      return null;
    }
    this.#generations.set(number, generation);
    this.#log.info(
      { event: 'child.started', pid: generation.pid, argv: plan.argv, generation: number, role },
      role === 'current' ? `child started, pid ${generation.pid}` : `new child started for the handover, pid ${generation.pid}; the current one serves until it is ready`,
    );
    return generation;
  }

  #startCurrent(): void {
    const generation = this.#startGeneration('current');
    if (!generation) {
      // Could not even exec (deleted binary, ...): the restart policy decides, as for a crash.
      this.#applyRestartPolicy({ code: ExitCode.notExecutable, signal: null, uptimeMs: 0 });
      return;
    }
    this.#state = 'running';
    this.#dispatch({ type: 'started', generation: generation.number });
  }

  #onReady(g: Generation, how: ReadyReason): void {
    this.#log.info(
      { event: 'child.ready', pid: g.pid, generation: g.number, how },
      how === 'notified' ? `child ${g.pid} is ready (READY=1)` : `child ${g.pid} counts as ready: it said nothing on NOTIFY_SOCKET for ${(this.#options.readyAfterMs ?? 0) / 1000} s (--ready-after)`,
    );
    if (this.#state === 'stopping' || this.#state === 'done') return;
    this.#dispatch({ type: 'ready', generation: g.number });
  }

  #onExit(g: Generation, exit: ChildExit): void {
    this.#generations.delete(g.number);
    this.#clearTimer(g.number);
    this.#settleFdWaiters();
    const expected = this.#state === 'stopping' || this.#handover.retiring.includes(g.number);
    this.#log[expected ? 'info' : 'warn'](
      {
        event: 'child.exited',
        pid: g.pid,
        code: exit.code,
        signal: exit.signal === null ? null : signalName(exit.signal),
        uptimeMs: Math.round(exit.uptimeMs),
        generation: g.number,
      },
      `child ${g.pid} ${describeExit(exit)} after ${formatDuration(exit.uptimeMs)}`,
    );
    if (this.#state === 'stopping') {
      // Workers of a stopped server must not outlive the stop (uWSGI's master waits for them,
      // but a master that died leaves them orphaned): whatever is left in its group is killed by
      // pid before the stop is over. Its group id is not signalled now that its leader is reaped.
      const settled = this.#options.containment.settle(g.pid, 0);
      if (this.#generations.size === 0) void settled.then(() => this.#finish(ExitCode.ok));
      return;
    }
    // Its workers get a grace to finish their requests, then are killed by pid (cut short when
    // supervision ends: gunicorn's sync worker notices its master's death only every 15 s).
    void this.#options.containment.settle(g.pid, ORPHAN_GRACE_MS);
    this.#dispatch({ type: 'exited', generation: g.number }, exit);
  }

  #dispatch(event: HandoverEvent, exit?: ChildExit): void {
    const { state, effects } = handoverStep(this.#handover, event);
    this.#handover = state;
    for (const effect of effects) this.#apply(effect, exit);
    // After every effect: a queued reload may have started the next candidate meanwhile.
    if (effects.some((e) => e.type === 'handover-failed')) this.#retryOutdatedPlan();
    this.#report();
  }

  /** The current generation runs an old plan (its socket is no longer at the path) and no handover is under way: try again later. */
  #retryOutdatedPlan(): void {
    const current = this.#current;
    if (this.#state !== 'running' || !current || current.plan === this.#plan || inHandover(this.#handover) || this.#timers.has('plan-retry')) return;
    const delayMs = backoffMs(PLAN_RETRY_FIRST_MS, PLAN_RETRY_MAX_MS, this.#planRetries);
    this.#planRetries++;
    this.#log.warn(
      { event: 'handover.retry', reason: this.#planReason, delayMs, attempt: this.#planRetries + 1, pid: current.pid },
      `the child ${current.pid} still serves a socket that is no longer at its path (${this.#planReason}): trying the handover again in ${delayMs / 1000} s`,
    );
    this.#setTimer('plan-retry', delayMs, () => {
      if (this.#state !== 'running' && this.#state !== 'waiting') return;
      this.#dispatch({ type: 'reload' });
    });
  }

  /** Settles the whenFdUnused waiters whose fd no generation and no longer the plan uses. */
  #settleFdWaiters(): void {
    const inUse = new Set(this.#plan.fds);
    if (this.#state !== 'done') for (const g of this.#generations.values()) for (const fd of g.plan.fds) inUse.add(fd);
    for (let i = this.#fdWaiters.length - 1; i >= 0; i--) {
      const waiter = this.#fdWaiters[i]!;
      if (this.#state === 'done' || !inUse.has(waiter.fd)) {
        this.#fdWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  #apply(effect: HandoverEffect, exit: ChildExit | undefined): void {
    const gen = (n: number): Generation | undefined => this.#generations.get(n);
    switch (effect.type) {
      case 'start-candidate': {
        const candidate = this.#startGeneration('candidate');
        if (!candidate) {
          this.#log.error({ event: 'handover.failed', reason: 'spawn' }, 'handover abandoned: the new child could not be started; the current one keeps serving');
          this.#retryOutdatedPlan();
          return;
        }
        const { handoverTimeoutMs } = this.#options;
        this.#setTimer('handover', handoverTimeoutMs, () => this.#dispatch({ type: 'ready-timeout', generation: candidate.number }));
        this.#dispatch({ type: 'candidate-started', generation: candidate.number });
        return;
      }
      case 'start-now':
        this.#clearTimer('restart');
        this.#log.info({ event: 'handover.start-now' }, 'no child is running: starting one now');
        this.#startCurrent();
        return;
      case 'retire': {
        const g = gen(effect.generation);
        if (!g) return;
        const { drainSignal } = this.#options;
        g.child.signal(drainSignal);
        this.#log.info(
          { event: 'child.drain-signal', pid: g.pid, generation: g.number, signal: signalName(drainSignal), timeoutMs: this.#options.stopTimeoutMs },
          `sent ${signalName(drainSignal)} to the old child ${g.pid}: it finishes its requests and exits`,
        );
        this.#armKill(g, 'child.drain-timeout', 'the old child did not finish in time');
        return;
      }
      case 'abort': {
        const g = gen(effect.generation);
        if (!g) return;
        g.child.signal(this.#options.stopSignal);
        this.#armKill(g, 'child.stop-timeout', 'the new child did not stop in time');
        return;
      }
      case 'handed-over': {
        this.#clearTimer('handover');
        const from = effect.from === null ? null : gen(effect.from);
        const to = gen(effect.to);
        this.#log.info(
          { event: 'handover.done', pid: to?.pid ?? null, generation: effect.to, oldPid: from?.pid ?? null },
          from ? `handover done: child ${to?.pid} serves, the old child ${from.pid} finishes its requests` : `handover done: child ${to?.pid} serves`,
        );
        return;
      }
      case 'handover-failed': {
        this.#clearTimer('handover');
        const seconds = this.#options.handoverTimeoutMs / 1000;
        const why =
          effect.reason === 'timeout'
            ? `was not ready within ${seconds} s (--handover-timeout) and is being stopped`
            : `${exit ? describeExit(exit) : 'exited'} before it was ready (read its output above)`;
        this.#log.error(
          { event: 'handover.failed', reason: effect.reason, generation: effect.generation, pid: this.childPid },
          `handover abandoned: the new child of generation ${effect.generation} ${why}; the current child ${this.childPid} keeps serving`,
        );
        return;
      }
      case 'took-over-early': {
        this.#clearTimer('handover');
        const to = gen(effect.to);
        this.#log.warn(
          { event: 'handover.took-over-early', generation: effect.to, pid: to?.pid ?? null },
          `the current child exited during the handover: the new child ${to?.pid} takes over before it is ready (requests wait in the socket's backlog)`,
        );
        return;
      }
      case 'reload-queued':
        this.#log.info({ event: 'handover.queued' }, 'a handover is already under way: another one follows when it is settled');
        return;
      case 'retired':
        this.#log.info({ event: 'handover.retired', generation: effect.generation }, `the old child of generation ${effect.generation} is gone`);
        return;
      case 'restart-policy':
        if (exit) this.#applyRestartPolicy(exit);
        return;
    }
  }

  #applyRestartPolicy(exit: ChildExit): void {
    const decision = this.#policy.decide(exit, performance.now());
    if (decision.action === 'restart') {
      this.#state = 'waiting';
      this.#restarts++;
      this.#log.info({ event: 'child.restart', delayMs: decision.delayMs, quickExits: decision.quickExits, restarts: this.#restarts }, `restarting the child in ${decision.delayMs} ms`);
      const restart = (): void => {
        this.#startCurrent();
        this.#report();
      };
      // No timer for an immediate restart: even setTimeout(0) costs a loop turn (>= 1 ms).
      if (decision.delayMs === 0) restart();
      else this.#setTimer('restart', decision.delayMs, restart);
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

  /** SIGKILL to g's process group if it has not exited after the stop timeout. */
  #armKill(g: Generation, event: string, message: string): void {
    const { stopTimeoutMs } = this.#options;
    this.#setTimer(g.number, stopTimeoutMs, () => {
      this.#log.warn({ event, pid: g.pid, timeoutMs: stopTimeoutMs }, `${message}: SIGKILL to its process group`);
      g.child.signalGroup(constants.signals.SIGKILL);
    });
  }

  /** Runs fn after ms, replacing (and clearing) the timer of the same key. */
  #setTimer(key: TimerKey, ms: number, fn: () => void): void {
    this.#clearTimer(key);
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        fn();
      }, ms),
    );
  }

  #clearTimer(key: TimerKey): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
  }

  #report(): void {
    this.#options.onStatus?.(this.status);
  }

  #finish(status: number): void {
    for (const key of [...this.#timers.keys()]) this.#clearTimer(key);
    // Giving up or exiting with the child's status while an old generation drains: it goes too.
    for (const number of liveGenerations(this.#handover)) this.#generations.get(number)?.child.signalGroup(constants.signals.SIGKILL);
    this.#state = 'done';
    this.#settleFdWaiters();
    this.#report();
    this.#resolveDone(status);
  }
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
