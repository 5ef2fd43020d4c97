// sockvisor as a systemd Type=notify service: READY=1 once the first child is ready, RELOADING=1
// (with MONOTONIC_USEC, as systemd >= 253 wants for reloads) during a handover and READY=1 after
// it, STOPPING=1 on stop, a STATUS= line at every change, and WATCHDOG=1 at half of WATCHDOG_USEC
// while the current child is ready (a child that keeps crashing lets the watchdog fire).
// See sd_notify(3) and systemd.service(5).
import type { Logger } from 'pino';
import { sendNotify } from '../native.js';
import type { SupervisorStatus } from '../supervisor/child-supervisor.js';

/** CLOCK_MONOTONIC in µs: Node's hrtime is CLOCK_MONOTONIC on Linux (libuv uv_hrtime). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** `ready: pid 1234, generation 3, 2 restarts; uWSGI is ready`. */
export function describeStatus(status: SupervisorStatus): string {
  const restarts = `${status.restarts} restart${status.restarts === 1 ? '' : 's'}`;
  if (status.phase === 'stopping') return 'stopping';
  if (status.pid === null) return `${status.phase}: no child running, ${restarts}`;
  const child = status.childStatus ? `; child: ${status.childStatus}` : '';
  return `${status.phase}: pid ${status.pid}, generation ${status.generation}, ${restarts}${child}`;
}

/** The datagram to send for a change from prev to next; null when nothing changed. */
export function notifyMessage(prev: SupervisorStatus | null, next: SupervisorStatus, now: () => bigint = monotonicUsec): string | null {
  const lines: string[] = [];
  if (next.phase !== prev?.phase) {
    if (next.phase === 'ready') lines.push('READY=1');
    else if (next.phase === 'reloading') lines.push('RELOADING=1', `MONOTONIC_USEC=${now()}`);
    else if (next.phase === 'stopping') lines.push('STOPPING=1');
  }
  const status = describeStatus(next);
  if (prev === null || lines.length > 0 || status !== describeStatus(prev)) lines.push(`STATUS=${status}`);
  return lines.length > 0 ? lines.join('\n') : null;
}

/** Half of WATCHDOG_USEC in ms when the watchdog is on for this process (WATCHDOG_PID unset or ours). */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Reports the supervisor's status to systemd's NOTIFY_SOCKET; does nothing outside systemd. */
export class SystemdNotifier {
  readonly #address: string;
  readonly #log: Logger;
  #last: SupervisorStatus | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #failed = false;

  /** null when sockvisor was not started with NOTIFY_SOCKET (not a Type=notify service). */
  static fromEnv(env: NodeJS.ProcessEnv, logger: Logger): SystemdNotifier | null {
    const address = env.NOTIFY_SOCKET;
    if (!address) return null;
    return new SystemdNotifier(address, watchdogIntervalMs(env), logger);
  }

  constructor(address: string, watchdogMs: number | null, logger: Logger) {
    this.#address = address;
    this.#log = logger;
    if (watchdogMs !== null) {
      this.#watchdog = setInterval(() => {
        if (this.#last?.healthy && this.#last.phase !== 'stopping') this.#send('WATCHDOG=1');
      }, watchdogMs);
      this.#watchdog.unref();
      logger.debug(
        { event: 'systemd.watchdog', intervalMs: watchdogMs },
        `answering systemd's watchdog every ${watchdogMs} ms while the child is ready`,
      );
    }
  }

  /** Sends what changed since the last status. */
  update(status: SupervisorStatus): void {
    const message = notifyMessage(this.#last, status);
    this.#last = status;
    if (message !== null) this.#send(message);
  }

  close(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #send(message: string): void {
    const error = sendNotify(this.#address, message);
    if (error === null) {
      this.#failed = false;
      return;
    }
    // Logged once per run of failures: a vanished socket should not flood the journal.
    if (!this.#failed)
      this.#log.warn(
        { event: 'systemd.notify-failed', address: this.#address, error },
        `could not notify systemd at ${this.#address} (${error})`,
      );
    this.#failed = true;
  }
}
