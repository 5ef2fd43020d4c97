// Every sentence the supervisor logs, in one place: a pure function from what happened (a log entry
// the lifecycle emits) to the pino level, fields and message. Tests and docs/usage.md quote some of
// these messages and event names: change them only together.
import { describeExit, signalName } from '../child/exit.js';
import type { ChildExit } from '../child/process.js';
import type { ReadyReason } from './generation.js';
import type { RestartMode } from './restart-policy.js';

export type Role = 'current' | 'candidate';

/** Why a generation gets SIGKILL when its timer fires: stopped, drained (retired), or a candidate aborted. */
export type KillReason = 'stop' | 'drain' | 'abort';

/** What happened, with the facts its sentence needs. */
export type LogEntry =
  | { what: 'reload'; reason: string }
  | { what: 'replan'; reason: string }
  | { what: 'escalate'; reason: string }
  | { what: 'stopping'; reason: string; pid: number | null }
  | { what: 'stop-signal'; pid: number | null; signo: number }
  | { what: 'forwarded'; pid: number | null; signo: number; error: string | null }
  | { what: 'spawn-failed'; error: unknown; generation: number; role: Role }
  | { what: 'started'; pid: number | null; argv: readonly string[]; generation: number; role: Role }
  | { what: 'ready'; pid: number | null; generation: number; how: ReadyReason }
  | { what: 'exited'; pid: number | null; generation: number; exit: ChildExit; expected: boolean }
  | { what: 'plan-retry'; reason: string; delayMs: number; attempt: number; pid: number | null }
  | { what: 'candidate-spawn-failed' }
  | { what: 'start-now' }
  | { what: 'drain-signal'; pid: number | null; generation: number; signo: number }
  | { what: 'handed-over'; pid: number | null; generation: number; oldPid: number | null }
  | { what: 'handover-failed'; reason: 'exited' | 'timeout'; generation: number; pid: number | null; exit: ChildExit | null }
  | { what: 'took-over-early'; generation: number; pid: number | null }
  | { what: 'queued' }
  | { what: 'retired'; generation: number }
  | { what: 'restart'; delayMs: number; quickExits: number; restarts: number }
  | { what: 'giving-up'; quickExits: number; streakMs: number }
  | { what: 'child-done'; reason: 'never' | 'clean-exit'; status: number }
  | { what: 'kill-timeout'; reason: KillReason; pid: number | null };

/** The settings some sentences quote. */
export interface LogSettings {
  stopTimeoutMs: number;
  readyAfterMs: number | null;
  handoverTimeoutMs: number;
  restart: { mode: RestartMode };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  /** pino's merging object; `event` first */
  fields: { event: string } & Record<string, unknown>;
  msg: string;
}

const KILL_TIMEOUT: Record<KillReason, { event: string; message: string }> = {
  stop: { event: 'child.stop-timeout', message: 'the child did not stop in time' },
  drain: { event: 'child.drain-timeout', message: 'the old child did not finish in time' },
  abort: { event: 'child.stop-timeout', message: 'the new child did not stop in time' },
};

/** The level, fields and message of one log entry. */
export function describe(entry: LogEntry, settings: LogSettings): LogLine {
  const { stopTimeoutMs: timeoutMs } = settings;
  switch (entry.what) {
    case 'reload':
      return info({ event: 'supervisor.reload', reason: entry.reason }, `reload requested (${entry.reason})`);
    case 'replan':
      return info({ event: 'supervisor.reload', reason: entry.reason }, `handing over to a new child (${entry.reason})`);
    case 'escalate':
      return warn({ event: 'supervisor.escalate', reason: entry.reason }, 'second stop request: killing the children now');
    case 'stopping':
      return info({ event: 'supervisor.stopping', reason: entry.reason, pid: entry.pid }, `stopping (${entry.reason})`);
    case 'stop-signal':
      return info(
        { event: 'child.stop-signal', pid: entry.pid, signal: signalName(entry.signo), timeoutMs },
        `sent ${signalName(entry.signo)} to the child ${entry.pid}`,
      );
    case 'forwarded':
      return info(
        { event: 'child.signal-forwarded', pid: entry.pid, signal: signalName(entry.signo), error: entry.error },
        `forwarded ${signalName(entry.signo)} to the child`,
      );
    case 'spawn-failed':
      return error(
        { event: 'child.spawn-failed', err: entry.error, generation: entry.generation, role: entry.role },
        (entry.error as Error).message,
      );
    case 'started':
      return info(
        { event: 'child.started', pid: entry.pid, argv: entry.argv, generation: entry.generation, role: entry.role },
        entry.role === 'current'
          ? `child started, pid ${entry.pid}`
          : `new child started for the handover, pid ${entry.pid}; the current one serves until it is ready`,
      );
    case 'ready':
      return info(
        { event: 'child.ready', pid: entry.pid, generation: entry.generation, how: entry.how },
        entry.how === 'notified'
          ? `child ${entry.pid} is ready (READY=1)`
          : `child ${entry.pid} counts as ready: it said nothing on NOTIFY_SOCKET for ${(settings.readyAfterMs ?? 0) / 1000} s ` +
              '(--ready-after)',
      );
    case 'exited': {
      const { exit } = entry;
      const fields = {
        event: 'child.exited',
        pid: entry.pid,
        code: exit.code,
        signal: exit.signal === null ? null : signalName(exit.signal),
        uptimeMs: Math.round(exit.uptimeMs),
        generation: entry.generation,
      };
      const msg = `child ${entry.pid} ${describeExit(exit)} after ${formatDuration(exit.uptimeMs)}`;
      return { level: entry.expected ? 'info' : 'warn', fields, msg };
    }
    case 'plan-retry':
      return warn(
        { event: 'handover.retry', reason: entry.reason, delayMs: entry.delayMs, attempt: entry.attempt, pid: entry.pid },
        `the child ${entry.pid} still serves a socket that is no longer at its path (${entry.reason}): ` +
          `trying the handover again in ${entry.delayMs / 1000} s`,
      );
    case 'candidate-spawn-failed':
      return error(
        { event: 'handover.failed', reason: 'spawn' },
        'handover abandoned: the new child could not be started; the current one keeps serving',
      );
    case 'start-now':
      return info({ event: 'handover.start-now' }, 'no child is running: starting one now');
    case 'drain-signal':
      return info(
        { event: 'child.drain-signal', pid: entry.pid, generation: entry.generation, signal: signalName(entry.signo), timeoutMs },
        `sent ${signalName(entry.signo)} to the old child ${entry.pid}: it finishes its requests and exits`,
      );
    case 'handed-over':
      return info(
        { event: 'handover.done', pid: entry.pid, generation: entry.generation, oldPid: entry.oldPid },
        entry.oldPid !== null
          ? `handover done: child ${entry.pid} serves, the old child ${entry.oldPid} finishes its requests`
          : `handover done: child ${entry.pid} serves`,
      );
    case 'handover-failed': {
      const why =
        entry.reason === 'timeout'
          ? `was not ready within ${settings.handoverTimeoutMs / 1000} s (--handover-timeout) and is being stopped`
          : `${entry.exit ? describeExit(entry.exit) : 'exited'} before it was ready (read its output above)`;
      return error(
        { event: 'handover.failed', reason: entry.reason, generation: entry.generation, pid: entry.pid },
        `handover abandoned: the new child of generation ${entry.generation} ${why}; the current child ${entry.pid} keeps serving`,
      );
    }
    case 'took-over-early':
      return warn(
        { event: 'handover.took-over-early', generation: entry.generation, pid: entry.pid },
        `the current child exited during the handover: the new child ${entry.pid} takes over before it is ready ` +
          "(requests wait in the socket's backlog)",
      );
    case 'queued':
      return info({ event: 'handover.queued' }, 'a handover is already under way: another one follows when it is settled');
    case 'retired':
      return info({ event: 'handover.retired', generation: entry.generation }, `the old child of generation ${entry.generation} is gone`);
    case 'restart':
      return info(
        { event: 'child.restart', delayMs: entry.delayMs, quickExits: entry.quickExits, restarts: entry.restarts },
        `restarting the child in ${entry.delayMs} ms`,
      );
    case 'giving-up':
      return error(
        { event: 'supervisor.giving-up', quickExits: entry.quickExits, streakMs: Math.round(entry.streakMs) },
        `giving up: the child exited ${entry.quickExits} times in a row within ${formatDuration(entry.streakMs)}, ` +
          'each time sooner than the healthy threshold; read its output above, fix it, then start sockvisor again',
      );
    case 'child-done':
      return info(
        { event: 'supervisor.child-done', reason: entry.reason, status: entry.status },
        `not restarting (--restart ${settings.restart.mode}); exiting with the child's status ${entry.status}`,
      );
    case 'kill-timeout': {
      const { event, message } = KILL_TIMEOUT[entry.reason];
      return warn({ event, pid: entry.pid, timeoutMs }, `${message}: SIGKILL to its process group`);
    }
  }
}

function info(fields: LogLine['fields'], msg: string): LogLine {
  return { level: 'info', fields, msg };
}

function warn(fields: LogLine['fields'], msg: string): LogLine {
  return { level: 'warn', fields, msg };
}

function error(fields: LogLine['fields'], msg: string): LogLine {
  return { level: 'error', fields, msg };
}

/** 420 ms, 1.5 s. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
