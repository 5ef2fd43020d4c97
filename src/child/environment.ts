// The environment a child starts with: sockvisor's own, less what belongs to sockvisor's parent
// (its LISTEN_*, NOTIFY_SOCKET, WATCHDOG_*), plus the systemd socket-passing protocol.
import type { Identity } from '../socket/identity.js';

/** Variables that describe sockvisor's own activation, never the child's. */
const INHERITED_ONLY_BY_US = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

export interface EnvironmentPlan {
  /** names of the sockets at fds 3.., in order; empty when passed on stdin */
  socketNames: string[];
  /** the user the child runs as, when --user changes it */
  user?: Identity | undefined;
}

/** The child's variables by name; LISTEN_PID is not among them: native spawn appends the child's own pid after fork. */
export function childVariables(base: NodeJS.ProcessEnv, plan: EnvironmentPlan): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && !INHERITED_ONLY_BY_US.includes(key)) env[key] = value;
  }
  if (plan.user) {
    // Like su -/systemd User=: programs find the target user's home and name, not root's.
    env.HOME = plan.user.home;
    env.USER = plan.user.name;
    env.LOGNAME = plan.user.name;
  }
  if (plan.socketNames.length > 0) {
    env.LISTEN_FDS = String(plan.socketNames.length);
    env.LISTEN_FDNAMES = plan.socketNames.join(':');
  }
  return env;
}

/** Builds envp (KEY=VALUE strings) from childVariables. */
export function childEnvironment(base: NodeJS.ProcessEnv, plan: EnvironmentPlan): string[] {
  return Object.entries(childVariables(base, plan)).map(([key, value]) => `${key}=${value}`);
}
