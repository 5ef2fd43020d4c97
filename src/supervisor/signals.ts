// Signals sent to sockvisor: stop requests, the reload request, and job signals for the child.
import { constants } from 'node:os';
import type { ChildSupervisor } from './child-supervisor.js';

/** SIGTERM/SIGINT/SIGQUIT stop; a second one while stopping kills the child's group at once. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
/** SIGHUP is a handover (systemd's ExecReload=kill -HUP $MAINPID), not passed on. */
const RELOAD_SIGNAL = 'SIGHUP';
/** Passed to the current child as they are. */
const FORWARDED_SIGNALS = ['SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH'] as const;

/** Routes process signals to the supervisor; returns a function that removes the handlers. */
export function installSignalHandlers(supervisor: ChildSupervisor): () => void {
  const handlers: [NodeJS.Signals, () => void][] = [];
  for (const name of STOP_SIGNALS) handlers.push([name, () => supervisor.stop(name)]);
  handlers.push([RELOAD_SIGNAL, () => supervisor.reload(RELOAD_SIGNAL)]);
  for (const name of FORWARDED_SIGNALS) handlers.push([name, () => supervisor.forward(constants.signals[name])]);
  for (const [name, handler] of handlers) process.on(name, handler);
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}
