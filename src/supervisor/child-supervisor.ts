// Supervision: start the child on the held sockets, restart it by policy, hand over to a new one
// on reload, stop it on request. The sockets are created before and removed after; they never
// change while generations of children come and go. What to do when is decided by the pure
// lifecycle (lifecycle.ts); this file only performs its effects: processes, timers, logs.
import type { Logger } from 'pino';
import { RunError } from '../errors.js';
import type { ChildPlan } from '../child/process.js';
import type { Containment } from '../containment/containment.js';
import { Generation } from './generation.js';
import {
  currentGeneration,
  initialLifecycle,
  statusPhase,
  step,
  type LifecycleEffect,
  type LifecycleEventBody,
  type LifecycleState,
  type SupervisionSettings,
  type TimerKey,
} from './lifecycle.js';
import { describe, type LogEntry } from './lifecycle-log.js';

export type { SupervisionSettings } from './lifecycle.js';

export interface ChildSupervisorOptions extends SupervisionSettings {
  child: ChildPlan;
  logger: Logger;
  /** reaps and kills what a child leaves in its process group; protects children if sockvisor dies */
  containment: Containment;
  /** told after every change of phase, pid, readiness or status (systemd notification) */
  onStatus?: (status: SupervisorStatus) => void;
  /** told every log entry as it is written (run statistics, the control socket) */
  onLog?: (entry: LogEntry) => void;
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

/**
 * Supervises the current generation (and, during a handover, the next and the retiring ones): the
 * decisions are the lifecycle's (lifecycle.ts); this class owns the processes and timers, tells
 * the lifecycle what happened and does what it says.
 */
export class ChildSupervisor {
  readonly #options: ChildSupervisorOptions;
  readonly #log: Logger;
  #state: LifecycleState<ChildPlan>;
  readonly #generations = new Map<number, Generation>();
  readonly #timers = new Map<TimerKey, NodeJS.Timeout>();
  readonly #fdWaiters = new Map<number, () => void>();
  #lastWaiter = 0;
  /** events sent while effects are performed (a spawn's outcome) wait for the step under way */
  readonly #queue: LifecycleEventBody<ChildPlan>[] = [];
  /** the first child's exec failure, thrown by start() */
  #startError: unknown = null;
  #stepping = false;
  #resolveDone!: (status: number) => void;
  /** sockvisor's exit status once supervision is over */
  readonly done: Promise<number>;

  constructor(options: ChildSupervisorOptions) {
    this.#options = options;
    this.#log = options.logger;
    const { restart, stopSignal, stopTimeoutMs, drainSignal, readyAfterMs, handoverTimeoutMs } = options;
    this.#state = initialLifecycle({ restart, stopSignal, stopTimeoutMs, drainSignal, readyAfterMs, handoverTimeoutMs }, options.child);
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get #current(): Generation | null {
    const current = currentGeneration(this.#state);
    return current === null ? null : (this.#generations.get(current) ?? null);
  }

  get childPid(): number | null {
    return this.#current?.pid ?? null;
  }

  /** A snapshot for systemd's STATUS= and the watchdog. */
  get status(): SupervisorStatus {
    const current = this.#current;
    return {
      phase: statusPhase(this.#state, current?.ready ?? null),
      healthy: current?.ready ?? false,
      pid: current?.pid ?? null,
      generation: current?.number ?? null,
      restarts: this.#state.restarts,
      childStatus: current?.status ?? null,
    };
  }

  /** Starts the first child; an exec failure here throws (exit 126/127) instead of retrying. */
  start(): void {
    if (this.#state.phase !== 'idle') throw new Error('ChildSupervisor.start() called twice');
    this.#send({ type: 'start' });
    const error = this.#startError;
    this.#startError = null;
    if (error !== null) throw error;
  }

  /**
   * A handover: a new child on the same sockets; once it is ready the current one drains and
   * exits. Not ready within handoverTimeoutMs, or exited: it is stopped and the current one stays.
   */
  reload(reason: string): void {
    this.#send({ type: 'reload', reason });
  }

  /**
   * Starts every later generation with `plan` (a socket made anew at its path has another fd in
   * sockvisor; the child still gets it at the same fd number) and hands over to one now. If that
   * handover fails, it is tried again, 1 s later, then doubling up to 30 s, until a generation
   * started with the new plan serves.
   */
  replacePlan(plan: ChildPlan, reason: string): void {
    this.#send({ type: 'replace-plan', plan, reason });
  }

  /**
   * Settles once no running generation was started with fd and the plan no longer has it (or
   * supervision is over): then sockvisor's copy of an old socket can be closed.
   */
  whenFdUnused(fd: number): Promise<void> {
    return new Promise((resolve) => {
      const id = ++this.#lastWaiter;
      this.#fdWaiters.set(id, resolve);
      this.#send({ type: 'wait-fd', id, fd });
    });
  }

  /** Stops every child (stop signal, then SIGKILL to its group after the timeout) and settles done with 0. */
  stop(reason: string): void {
    this.#send({ type: 'stop', reason });
  }

  /** Passes a signal on to the current child (job control signals). */
  forward(signo: number): void {
    this.#send({ type: 'forward', signo });
  }

  /** Steps the lifecycle with event (and with what its effects send back), performing each step's effects in order. */
  #send(event: LifecycleEventBody<ChildPlan>): void {
    this.#queue.push(event);
    if (this.#stepping) return;
    this.#stepping = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const result = step(this.#state, { ...next, now: performance.now() });
        this.#state = result.state;
        this.#performAll(result.effects);
      }
    } finally {
      this.#stepping = false;
      this.#queue.length = 0;
    }
  }

  /**
   * One step's effects in their order, except that a spawn does not wait for the log lines and
   * settle-groups before it: a restart is the fork of the next child, and writing those lines (cold
   * code, a restart being rare) took as long as the fork itself. They follow the spawn in their
   * order, before anything the spawn sends back (spawned: the 'started' line) is stepped.
   */
  #performAll(effects: LifecycleEffect<ChildPlan>[]): void {
    const spawnAt = effects.findIndex((e) => e.type === 'spawn');
    if (spawnAt < 0) {
      for (const effect of effects) this.#perform(effect);
      return;
    }
    const deferred: LifecycleEffect<ChildPlan>[] = [];
    for (const effect of effects.slice(0, spawnAt)) {
      if (effect.type === 'log' || effect.type === 'settle-group') deferred.push(effect);
      else this.#perform(effect);
    }
    try {
      this.#perform(effects[spawnAt]!);
    } finally {
      // Written even when the spawn throws something unexpected, which ends sockvisor.
      for (const effect of deferred) this.#perform(effect);
    }
    for (const effect of effects.slice(spawnAt + 1)) this.#perform(effect);
  }

  #perform(effect: LifecycleEffect<ChildPlan>): void {
    switch (effect.type) {
      case 'spawn':
        return this.#spawn(effect.generation, effect.plan);
      case 'signal':
        this.#generations.get(effect.generation)?.child.signal(effect.signo);
        return;
      case 'signal-group':
        this.#generations.get(effect.generation)?.child.signalGroup(effect.signo);
        return;
      case 'forward': {
        const g = this.#generations.get(effect.generation);
        if (!g) return;
        const error = g.child.signal(effect.signo);
        return this.#write({ what: 'forwarded', pid: g.pid, signo: effect.signo, error });
      }
      case 'arm': {
        const { key } = effect;
        clearTimeout(this.#timers.get(key));
        const timer = setTimeout(() => {
          this.#timers.delete(key);
          this.#send({ type: 'timer', key });
        }, effect.ms);
        this.#timers.set(key, timer);
        return;
      }
      case 'cancel':
        clearTimeout(this.#timers.get(effect.key));
        this.#timers.delete(effect.key);
        return;
      case 'settle-group': {
        if (effect.pid === null) return;
        const settled = this.#options.containment.settle(effect.pid, effect.graceMs);
        if (effect.notify) void settled.then(() => this.#send({ type: 'group-emptied', generation: effect.generation }));
        return;
      }
      case 'settle-fd-waiters':
        for (const id of effect.ids) {
          this.#fdWaiters.get(id)?.();
          this.#fdWaiters.delete(id);
        }
        return;
      case 'log':
        return this.#write(effect.entry);
      case 'report':
        this.#options.onStatus?.(this.status);
        return;
      case 'finish':
        this.#resolveDone(effect.status);
        return;
    }
  }

  /** Starts a generation and tells the lifecycle; the very first exec failure throws. */
  #spawn(number: number, plan: ChildPlan): void {
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
          onReady: (g, how) => this.#send({ type: 'ready', generation: g.number, how }),
          onStatus: () => this.#options.onStatus?.(this.status),
          onExit: (g, exit) => {
            this.#generations.delete(g.number);
            this.#send({ type: 'exited', generation: g.number, exit });
          },
        },
      });
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      if (this.#state.phase === 'idle') this.#startError = error;
      this.#send({ type: 'spawn-failed', generation: number, error });
      return;
    }
    this.#generations.set(number, generation);
    this.#send({ type: 'spawned', generation: number, pid: generation.pid });
  }

  #write(entry: LogEntry): void {
    const { level, fields, msg } = describe(entry, this.#options);
    this.#log[level](fields, msg);
    this.#options.onLog?.(entry);
  }
}
