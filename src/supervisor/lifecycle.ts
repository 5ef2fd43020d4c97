// The supervisor's whole lifecycle as one pure state machine: events in (a child started, became
// ready or exited; a timer fired; a stop, reload or new plan was asked for), effects out (spawn a
// generation, signal it or its group, arm or cancel a timer, log, report, finish with a status).
// No processes, no timers, no clock: the time of each event is part of it. child-supervisor.ts performs
// the effects; every interleaving can be tested here by table, without root, in milliseconds.
//
// Phases: idle (nothing started) -> running (a current generation, maybe a handover under way, see
// handover.ts) <-> waiting (the current one exited; a restart is pending, see restart-policy.ts)
// -> stopping (stop signal sent; done once every generation is gone) -> done. Giving up, or a
// child not to be restarted, goes from running to done directly.
import { constants } from 'node:os';
import { shellStatus } from '../child/exit.js';
import type { ChildExit } from '../child/process.js';
import { ExitCode } from '../errors.js';
import type { ReadyReason } from './generation.js';
import { handoverStep, inHandover, initialHandoverState, type HandoverEffect, type HandoverEvent, type HandoverState } from './handover.js';
import type { KillReason, LogEntry, Role } from './lifecycle-log.js';
import { backoffMs, decideRestart, noStreak, type RestartPolicyOptions, type RestartStreak } from './restart-policy.js';

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

/** What the lifecycle needs to know of a plan: its command (for the log) and the fds it passes. */
export interface PlanFacts {
  readonly argv: readonly string[];
  readonly fds: readonly number[];
}

/** How long the workers of a child that died on its own get to finish before they are killed. */
export const ORPHAN_GRACE_MS = 1000;

/** Retries of a handover to a new plan (a socket made anew): 1 s, doubling, at most 30 s apart. */
export const PLAN_RETRY_FIRST_MS = 1000;
export const PLAN_RETRY_MAX_MS = 30_000;

export type Phase = 'idle' | 'running' | 'waiting' | 'stopping' | 'done';

/** The pending restart, the candidate's readiness, the plan retry, and one SIGKILL per generation. */
export type TimerKey = 'restart' | 'handover' | 'plan-retry' | `kill:${number}`;

type Timer =
  | { key: 'restart' }
  | { key: 'handover'; generation: number }
  | { key: 'plan-retry' }
  | { key: `kill:${number}`; generation: number; reason: KillReason };

/** A generation spawned (pid null until the spawn is confirmed) and not yet reaped. */
export interface GenerationFacts<P extends PlanFacts> {
  readonly pid: number | null;
  readonly role: Role;
  readonly plan: P;
}

export interface LifecycleState<P extends PlanFacts = PlanFacts> {
  readonly settings: SupervisionSettings;
  readonly phase: Phase;
  /** what new generations are started with: the first plan until a socket is made anew */
  readonly plan: P;
  /** why the plan was last replaced, for the log */
  readonly planReason: string;
  readonly planRetries: number;
  readonly handover: HandoverState;
  readonly streak: RestartStreak;
  readonly generations: ReadonlyMap<number, GenerationFacts<P>>;
  readonly lastGeneration: number;
  readonly restarts: number;
  /** only armed timers: a timer event for another key is stale and ignored */
  readonly timers: ReadonlyMap<TimerKey, Timer>;
  /** whenFdUnused callers, settled once no generation and no longer the plan uses their fd */
  readonly fdWaiters: readonly { readonly id: number; readonly fd: number }[];
}

/** What happened; the lifecycle takes it with the time it happened (LifecycleEvent). */
export type LifecycleEventBody<P extends PlanFacts = PlanFacts> =
  | { type: 'start' }
  /** the spawn effect succeeded */
  | { type: 'spawned'; generation: number; pid: number }
  /** the spawn effect failed (exec failure of a later generation) */
  | { type: 'spawn-failed'; generation: number; error: unknown }
  | { type: 'ready'; generation: number; how: ReadyReason }
  | { type: 'exited'; generation: number; exit: ChildExit }
  | { type: 'timer'; key: TimerKey }
  /** the process group of an exited generation is empty (settle-group with notify) */
  | { type: 'group-emptied'; generation: number }
  | { type: 'reload'; reason: string }
  | { type: 'replace-plan'; plan: P; reason: string }
  | { type: 'stop'; reason: string }
  | { type: 'forward'; signo: number }
  | { type: 'wait-fd'; id: number; fd: number };

/** An event and its time: a monotonic clock in ms (performance.now()). */
export type LifecycleEvent<P extends PlanFacts = PlanFacts> = LifecycleEventBody<P> & { now: number };

export type LifecycleEffect<P extends PlanFacts = PlanFacts> =
  /** start a generation with plan; answer with spawned or spawn-failed */
  | { type: 'spawn'; generation: number; role: Role; plan: P }
  | { type: 'signal'; generation: number; signo: number }
  | { type: 'signal-group'; generation: number; signo: number }
  /** signal the current generation and log the outcome (forwarded) */
  | { type: 'forward'; generation: number; signo: number }
  | { type: 'arm'; key: TimerKey; ms: number }
  | { type: 'cancel'; key: TimerKey }
  /** after graceMs kill what is left in the exited child's process group; with notify, answer with group-emptied */
  | { type: 'settle-group'; generation: number; pid: number | null; graceMs: number; notify: boolean }
  | { type: 'settle-fd-waiters'; ids: number[] }
  | { type: 'log'; entry: LogEntry }
  /** tell onStatus (systemd) the status now */
  | { type: 'report' }
  | { type: 'finish'; status: number };

export interface LifecycleStep<P extends PlanFacts> {
  state: LifecycleState<P>;
  effects: LifecycleEffect<P>[];
}

/** A lifecycle that has started nothing yet. */
export function initialLifecycle<P extends PlanFacts>(settings: SupervisionSettings, plan: P): LifecycleState<P> {
  return {
    settings,
    phase: 'idle',
    plan,
    planReason: '',
    planRetries: 0,
    handover: initialHandoverState,
    streak: noStreak,
    generations: new Map(),
    lastGeneration: 0,
    restarts: 0,
    timers: new Map(),
    fdWaiters: [],
  };
}

/** The generation that serves (or is starting to), if it still runs. */
export function currentGeneration(state: LifecycleState<PlanFacts>): number | null {
  const current = state.handover.current;
  return current !== null && state.generations.has(current) ? current : null;
}

export type StatusPhase = 'starting' | 'ready' | 'reloading' | 'restarting' | 'stopping';

/** What sockvisor is doing, for SupervisorStatus: currentReady is the current child's own readiness. */
export function statusPhase(state: LifecycleState<PlanFacts>, currentReady: boolean | null): StatusPhase {
  if (state.phase === 'stopping' || state.phase === 'done') return 'stopping';
  if (inHandover(state.handover)) return 'reloading';
  if (currentReady === null) return 'restarting';
  return currentReady ? 'ready' : 'starting';
}

/** The next state and the effects to perform, in order, for one event. */
export function step<P extends PlanFacts>(state: LifecycleState<P>, event: LifecycleEvent<P>): LifecycleStep<P> {
  const machine = new Step(state);
  machine.on(event);
  return machine.finish();
}

/**
 * One step's working copy: handlers change it and collect effects; the state passed to step() is
 * never changed.
 */
class Step<P extends PlanFacts> {
  readonly #settings: SupervisionSettings;
  #s: {
    -readonly [K in keyof LifecycleState<P>]: LifecycleState<P>[K];
  };
  readonly #generations: Map<number, GenerationFacts<P>>;
  readonly #timers: Map<TimerKey, Timer>;
  readonly #effects: LifecycleEffect<P>[] = [];
  #changed = false;

  constructor(state: LifecycleState<P>) {
    this.#settings = state.settings;
    this.#generations = new Map(state.generations);
    this.#timers = new Map(state.timers);
    this.#s = { ...state, generations: this.#generations, timers: this.#timers };
  }

  on(event: LifecycleEvent<P>): void {
    this.#changed = true;
    switch (event.type) {
      case 'start':
        if (this.#s.phase === 'idle') this.#startCurrent();
        return;
      case 'spawned':
        return this.#onSpawned(event.generation, event.pid);
      case 'spawn-failed':
        return this.#onSpawnFailed(event.generation, event.error, event.now);
      case 'ready':
        return this.#onReady(event.generation, event.how);
      case 'exited':
        return this.#onExited(event.generation, event.exit, event.now);
      case 'timer':
        return this.#onTimer(event.key);
      case 'group-emptied':
        if (this.#s.phase === 'stopping') this.#finishWith(ExitCode.ok);
        else this.#changed = false;
        return;
      case 'reload':
        if (!this.#supervising()) return void (this.#changed = false);
        this.#log({ what: 'reload', reason: event.reason });
        return this.#handover({ type: 'reload' });
      case 'replace-plan':
        return this.#onReplacePlan(event.plan, event.reason);
      case 'stop':
        return this.#onStop(event.reason);
      case 'forward': {
        this.#changed = false;
        const current = currentGeneration(this.#s);
        if (current === null || this.#s.phase !== 'running') return;
        this.#effects.push({ type: 'forward', generation: current, signo: event.signo });
        return;
      }
      case 'wait-fd':
        this.#changed = false;
        this.#s.fdWaiters = [...this.#s.fdWaiters, { id: event.id, fd: event.fd }];
        return;
    }
  }

  finish(): LifecycleStep<P> {
    this.#settleFdWaiters();
    // A spawn is answered by the next step (spawned or spawn-failed), which reports: no status
    // without the child that is being started (systemd would read 'restarting' for a moment).
    if (this.#changed && !this.#effects.some((e) => e.type === 'spawn')) this.#effects.push({ type: 'report' });
    return { state: this.#s, effects: this.#effects };
  }

  /** Running or waiting for a restart: a reload or a new plan hands over now. */
  #supervising(): boolean {
    return this.#s.phase === 'running' || this.#s.phase === 'waiting';
  }

  #pid(generation: number | null): number | null {
    return generation === null ? null : (this.#generations.get(generation)?.pid ?? null);
  }

  #log(entry: LogEntry): void {
    this.#effects.push({ type: 'log', entry });
  }

  #arm(timer: Timer, ms: number): void {
    this.#timers.set(timer.key, timer);
    this.#effects.push({ type: 'arm', key: timer.key, ms });
  }

  #cancel(key: TimerKey): void {
    if (this.#timers.delete(key)) this.#effects.push({ type: 'cancel', key });
  }

  #spawn(role: Role): void {
    const generation = ++this.#s.lastGeneration;
    this.#generations.set(generation, { pid: null, role, plan: this.#s.plan });
    this.#effects.push({ type: 'spawn', generation, role, plan: this.#s.plan });
  }

  #startCurrent(): void {
    this.#spawn('current');
  }

  #onSpawned(generation: number, pid: number): void {
    const facts = this.#generations.get(generation);
    if (!facts || facts.pid !== null) return;
    this.#generations.set(generation, { ...facts, pid });
    this.#log({ what: 'started', pid, argv: facts.plan.argv, generation, role: facts.role });
    if (facts.role === 'current') {
      this.#s.phase = 'running';
      this.#handover({ type: 'started', generation });
    } else {
      this.#arm({ key: 'handover', generation }, this.#settings.handoverTimeoutMs);
      this.#handover({ type: 'candidate-started', generation });
    }
  }

  #onSpawnFailed(generation: number, error: unknown, now: number): void {
    const facts = this.#generations.get(generation);
    if (!facts || facts.pid !== null) return;
    this.#generations.delete(generation);
    // The first child is not supervised until it runs: start() throws its failure (exit 126/127).
    if (this.#s.phase === 'idle') return void (this.#changed = false);
    this.#log({ what: 'spawn-failed', error, generation, role: facts.role });
    if (facts.role === 'current') {
      // Could not even exec (deleted binary, ...): the restart policy decides, as for a crash.
      this.#applyRestartPolicy({ code: ExitCode.notExecutable, signal: null, uptimeMs: 0 }, now);
    } else {
      this.#log({ what: 'candidate-spawn-failed' });
      this.#retryOutdatedPlan();
    }
  }

  #onReady(generation: number, how: ReadyReason): void {
    this.#log({ what: 'ready', pid: this.#pid(generation), generation, how });
    if (this.#s.phase === 'stopping' || this.#s.phase === 'done') return;
    this.#handover({ type: 'ready', generation });
  }

  #onExited(generation: number, exit: ChildExit, now: number): void {
    const facts = this.#generations.get(generation);
    if (!facts) return;
    this.#generations.delete(generation);
    const stopping = this.#s.phase === 'stopping';
    const expected = stopping || this.#s.handover.retiring.includes(generation);
    this.#log({ what: 'exited', pid: facts.pid, generation, exit, expected });
    this.#cancel(`kill:${generation}`);
    if (stopping) {
      // Workers of a stopped server must not outlive the stop (uWSGI's master waits for them,
      // but a master that died leaves them orphaned): whatever is left in its group is killed by
      // pid before the stop is over. Its group id is not signalled now that its leader is reaped.
      this.#effects.push({ type: 'settle-group', generation, pid: facts.pid, graceMs: 0, notify: this.#generations.size === 0 });
      return;
    }
    // Its workers get a grace to finish their requests, then are killed by pid (cut short when
    // supervision ends: gunicorn's sync worker notices its master's death only every 15 s).
    this.#effects.push({ type: 'settle-group', generation, pid: facts.pid, graceMs: ORPHAN_GRACE_MS, notify: false });
    this.#handover({ type: 'exited', generation }, exit, now);
  }

  #onTimer(key: TimerKey): void {
    const timer = this.#timers.get(key);
    if (!timer) return void (this.#changed = false);
    this.#timers.delete(key);
    switch (timer.key) {
      case 'restart':
        return this.#startCurrent();
      case 'handover':
        return this.#handover({ type: 'ready-timeout', generation: timer.generation });
      case 'plan-retry':
        if (this.#supervising()) this.#handover({ type: 'reload' });
        return;
      default:
        this.#log({ what: 'kill-timeout', reason: timer.reason, pid: this.#pid(timer.generation) });
        this.#effects.push({ type: 'signal-group', generation: timer.generation, signo: constants.signals.SIGKILL });
    }
  }

  #onReplacePlan(plan: P, reason: string): void {
    this.#s.plan = plan;
    this.#s.planReason = reason;
    this.#s.planRetries = 0;
    this.#cancel('plan-retry');
    if (!this.#supervising()) return;
    this.#log({ what: 'replan', reason });
    this.#handover({ type: 'reload' });
  }

  #onStop(reason: string): void {
    const { phase } = this.#s;
    if (phase === 'done') return void (this.#changed = false);
    if (phase === 'stopping') {
      this.#log({ what: 'escalate', reason });
      return this.#killAll();
    }
    this.#cancel('restart');
    this.#cancel('handover');
    this.#cancel('plan-retry');
    this.#s.phase = 'stopping';
    this.#log({ what: 'stopping', reason, pid: this.#pid(currentGeneration(this.#s)) });
    if (this.#generations.size === 0) return this.#finishWith(ExitCode.ok);
    // Retiring generations already got the drain signal and their own kill timer.
    const { stopSignal, stopTimeoutMs } = this.#settings;
    for (const generation of [this.#s.handover.current, this.#s.handover.candidate]) {
      if (generation === null || !this.#generations.has(generation)) continue;
      this.#effects.push({ type: 'signal', generation, signo: stopSignal });
      this.#log({ what: 'stop-signal', pid: this.#pid(generation), signo: stopSignal });
      this.#armKill(generation, 'stop', stopTimeoutMs);
    }
  }

  /** SIGKILL to the generation's process group if it has not exited after the stop timeout. */
  #armKill(generation: number, reason: KillReason, ms: number): void {
    this.#arm({ key: `kill:${generation}`, generation, reason }, ms);
  }

  /** One handover event, its effects turned into the lifecycle's. */
  #handover(event: HandoverEvent, exit?: ChildExit, now?: number): void {
    const { state, effects } = handoverStep(this.#s.handover, event);
    this.#s.handover = state;
    for (const effect of effects) this.#apply(effect, exit, now);
    // A queued reload may have started the next candidate meanwhile: then no retry is due.
    if (effects.some((e) => e.type === 'handover-failed') && !effects.some((e) => e.type === 'start-candidate')) this.#retryOutdatedPlan();
  }

  #apply(effect: HandoverEffect, exit: ChildExit | undefined, now: number | undefined): void {
    const { stopSignal, drainSignal, stopTimeoutMs } = this.#settings;
    switch (effect.type) {
      case 'start-candidate':
        return this.#spawn('candidate');
      case 'start-now':
        this.#cancel('restart');
        this.#log({ what: 'start-now' });
        return this.#startCurrent();
      case 'retire': {
        const { generation } = effect;
        if (!this.#generations.has(generation)) return;
        this.#effects.push({ type: 'signal', generation, signo: drainSignal });
        this.#log({ what: 'drain-signal', pid: this.#pid(generation), generation, signo: drainSignal });
        return this.#armKill(generation, 'drain', stopTimeoutMs);
      }
      case 'abort': {
        const { generation } = effect;
        if (!this.#generations.has(generation)) return;
        this.#effects.push({ type: 'signal', generation, signo: stopSignal });
        return this.#armKill(generation, 'abort', stopTimeoutMs);
      }
      case 'handed-over':
        this.#cancel('handover');
        this.#log({ what: 'handed-over', pid: this.#pid(effect.to), generation: effect.to, oldPid: this.#pid(effect.from) });
        return;
      case 'handover-failed': {
        this.#cancel('handover');
        const pid = this.#pid(currentGeneration(this.#s));
        return this.#log({ what: 'handover-failed', reason: effect.reason, generation: effect.generation, pid, exit: exit ?? null });
      }
      case 'took-over-early':
        this.#cancel('handover');
        this.#log({ what: 'took-over-early', generation: effect.to, pid: this.#pid(effect.to) });
        return;
      case 'reload-queued':
        return this.#log({ what: 'queued' });
      case 'retired':
        return this.#log({ what: 'retired', generation: effect.generation });
      case 'restart-policy':
        if (exit && now !== undefined) this.#applyRestartPolicy(exit, now);
        return;
    }
  }

  #applyRestartPolicy(exit: ChildExit, now: number): void {
    const { streak, decision } = decideRestart(this.#settings.restart, this.#s.streak, exit, now);
    this.#s.streak = streak;
    if (decision.action === 'restart') {
      this.#s.phase = 'waiting';
      this.#s.restarts++;
      this.#log({ what: 'restart', delayMs: decision.delayMs, quickExits: decision.quickExits, restarts: this.#s.restarts });
      // No timer for an immediate restart: even setTimeout(0) costs a loop turn (>= 1 ms).
      if (decision.delayMs === 0) this.#startCurrent();
      else this.#arm({ key: 'restart' }, decision.delayMs);
    } else if (decision.action === 'give-up') {
      this.#log({ what: 'giving-up', quickExits: decision.quickExits, streakMs: decision.streakMs });
      this.#finishWith(ExitCode.gaveUp);
    } else {
      const status = shellStatus(exit);
      this.#log({ what: 'child-done', reason: decision.reason, status });
      this.#finishWith(status);
    }
  }

  /** The current generation runs an old plan (its socket is no longer at the path) and no handover is under way: try again later. */
  #retryOutdatedPlan(): void {
    const current = currentGeneration(this.#s);
    if (this.#s.phase !== 'running' || current === null || inHandover(this.#s.handover) || this.#timers.has('plan-retry')) return;
    if (this.#generations.get(current)?.plan === this.#s.plan) return;
    const delayMs = backoffMs(PLAN_RETRY_FIRST_MS, PLAN_RETRY_MAX_MS, this.#s.planRetries);
    this.#s.planRetries++;
    this.#log({ what: 'plan-retry', reason: this.#s.planReason, delayMs, attempt: this.#s.planRetries + 1, pid: this.#pid(current) });
    this.#arm({ key: 'plan-retry' }, delayMs);
  }

  /** Supervision is over: every timer goes, and so does whatever still runs (an old generation draining). */
  #finishWith(status: number): void {
    for (const key of [...this.#timers.keys()]) this.#cancel(key);
    this.#killAll();
    this.#s.phase = 'done';
    this.#effects.push({ type: 'finish', status });
  }

  /** SIGKILL to the process group of every generation still running. */
  #killAll(): void {
    const signo = constants.signals.SIGKILL;
    for (const generation of this.#generations.keys()) this.#effects.push({ type: 'signal-group', generation, signo });
  }

  /** Settles the whenFdUnused waiters whose fd no generation and no longer the plan uses (all of them once done). */
  #settleFdWaiters(): void {
    if (this.#s.fdWaiters.length === 0) return;
    const done = this.#s.phase === 'done';
    const inUse = new Set(this.#s.plan.fds);
    for (const g of this.#generations.values()) for (const fd of g.plan.fds) inUse.add(fd);
    const settled = this.#s.fdWaiters.filter((w) => done || !inUse.has(w.fd));
    if (settled.length === 0) return;
    this.#s.fdWaiters = this.#s.fdWaiters.filter((w) => !settled.includes(w));
    this.#effects.push({ type: 'settle-fd-waiters', ids: settled.map((w) => w.id) });
  }
}
