// Signals sent to sockvisor: stop requests, the reload request, and job signals for the child.
import { constants } from 'node:os';
import type { Supervisor } from './supervisor.js';

/** SIGTERM/SIGINT/SIGQUIT stop; a second one while stopping kills the child's group at once. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
/**
 * Passed to the child as they are. SIGHUP too, for now: uWSGI's own graceful reload keeps an
 * inherited fd:// socket (FACTS.md). A handover with a second child is a later step.
 */
const FORWARDED_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH'] as const;

/** Routes process signals to the supervisor; returns a function that removes the handlers. */
export function installSignalHandlers(supervisor: Supervisor): () => void {
  const handlers: [NodeJS.Signals, () => void][] = [];
  for (const name of STOP_SIGNALS) handlers.push([name, () => supervisor.stop(name)]);
  for (const name of FORWARDED_SIGNALS) handlers.push([name, () => supervisor.forward(constants.signals[name])]);
  for (const [name, handler] of handlers) process.on(name, handler);
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}
