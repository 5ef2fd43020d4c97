// One generation: a child started on the held sockets with a NOTIFY_SOCKET of its own, and when it
// counts as ready. A child that says anything on the socket is a notifier and is ready at READY=1
// (uWSGI says STATUS= within milliseconds of exec, long before its app is imported, and READY=1
// once its workers are up). A child that stays silent for readyAfterMs is taken as ready then
// (not for uWSGI by default: it always notifies, and a loaded machine can delay its first word).
//
// A datagram is believed only if its sender still lives when sockvisor reads it (its process group
// is looked up then): a helper that sends and exits at once may be ignored, as with systemd's
// NotifyAccess=all. uWSGI's master sends READY=1 and lives on.
import type { Logger } from 'pino';
import { startChild, type ChildExit, type ChildPlan, type RunningChild } from '../child/process.js';
import type { SpawnedProcess } from '../native.js';
import { NotifyChannel, type ChildNotification } from '../child/notify.js';

export type ReadyReason = 'notified' | 'silent';

export interface GenerationEvents {
  onReady(generation: Generation, reason: ReadyReason): void;
  /** STATUS= from the child, or RELOADING=1 (not ready again until READY=1) */
  onStatus(generation: Generation): void;
  onExit(generation: Generation, exit: ChildExit): void;
}

export interface GenerationOptions {
  plan: ChildPlan;
  number: number;
  /** a child silent this long after exec is taken as ready; null: only READY=1 counts */
  readyAfterMs: number | null;
  logger: Logger;
  events: GenerationEvents;
  /** sees the child (pid and pidfd) right after fork+exec, before anything else runs */
  onSpawned?: (spawned: SpawnedProcess) => void;
}

/** A started child, its notify channel and its readiness. */
export class Generation {
  readonly number: number;
  /** what it was started with: the supervisor's plan at the time (its fds, after a socket was made anew) */
  readonly plan: ChildPlan;
  readonly child: RunningChild;
  #ready = false;
  #notifier = false;
  #status: string | null = null;
  #silenceTimer: NodeJS.Timeout | null = null;
  readonly #channel: NotifyChannel;
  readonly #log: Logger;
  readonly #events: GenerationEvents;

  /** Spawns the child; exec failures throw (RunError) with nothing left open. */
  constructor(options: GenerationOptions) {
    this.number = options.number;
    this.plan = options.plan;
    this.#events = options.events;
    this.#log = options.logger;
    this.#channel = new NotifyChannel(
      {
        onNotification: (n) => this.#onNotification(n),
        onRejected: (d, reason) =>
          this.#log.warn(
            { event: 'notify.rejected', reason, senderPid: d.pid, senderUid: d.uid, generation: this.number },
            reason === 'truncated'
              ? `ignored a notification of the child over 4096 bytes`
              : `ignored a notification from pid ${d.pid} (uid ${d.uid}): it is not the child ${this.pid} or one of its processes`,
          ),
      },
      `g${options.number}`,
    );
    const plan: ChildPlan = { ...options.plan, envp: [...options.plan.envp, `NOTIFY_SOCKET=${this.#channel.address}`] };
    try {
      this.child = startChild(plan, { onSpawned: options.onSpawned, onExit: (exit) => this.#onExit(exit) });
    } catch (error) {
      this.#channel.close();
      throw error;
    }
    this.#channel.attach(this.child.pid);
    if (options.readyAfterMs !== null) {
      this.#silenceTimer = setTimeout(() => {
        this.#silenceTimer = null;
        if (!this.#notifier) this.#markReady('silent');
      }, options.readyAfterMs);
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** the child's last STATUS= line */
  get status(): string | null {
    return this.#status;
  }

  #onExit(exit: ChildExit): void {
    this.#clearSilenceTimer();
    this.#channel.close();
    this.#ready = false;
    this.#events.onExit(this, exit);
  }

  #onNotification(n: ChildNotification): void {
    this.#notifier = true;
    this.#clearSilenceTimer();
    this.#log.debug(
      { event: 'child.notify', pid: this.pid, generation: this.number, fields: n.fields },
      `child ${this.pid} notified ${Object.keys(n.fields).join(', ')}`,
    );
    let statusChanged = false;
    if (n.status !== undefined && n.status !== this.#status) {
      this.#status = n.status;
      statusChanged = true;
    }
    if (n.reloading && this.#ready) {
      this.#ready = false;
      statusChanged = true;
      this.#log.info({ event: 'child.reloading', pid: this.pid, generation: this.number }, `child ${this.pid} is reloading itself`);
    }
    if (n.stopping)
      this.#log.info({ event: 'child.stopping', pid: this.pid, generation: this.number }, `child ${this.pid} says it is stopping`);
    if (statusChanged) this.#events.onStatus(this);
    if (n.ready && !this.#ready) this.#markReady('notified');
  }

  #markReady(reason: ReadyReason): void {
    this.#ready = true;
    this.#events.onReady(this, reason);
  }

  #clearSilenceTimer(): void {
    if (this.#silenceTimer) clearTimeout(this.#silenceTimer);
    this.#silenceTimer = null;
  }
}
