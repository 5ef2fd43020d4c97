// Where a run's control socket is: next to its first unix socket, as a hidden file named after it,
// so that the folder the path checks found trustworthy holds it too, and `status PATH` finds it.
import { basename, dirname, join } from 'node:path';

export const CONTROL_SUFFIX = '.sockvisor.ctl';

/** /run/app/app.sock -> /run/app/.app.sock.sockvisor.ctl */
export function controlSocketPath(socketPath: string): string {
  return join(dirname(socketPath), `.${basename(socketPath)}${CONTROL_SUFFIX}`);
}

/** The app socket a control socket belongs to, or null when path is not named like one. */
export function appSocketPath(controlPath: string): string | null {
  const name = basename(controlPath);
  if (!name.startsWith('.') || !name.endsWith(CONTROL_SUFFIX) || name.length <= CONTROL_SUFFIX.length + 1) return null;
  return join(dirname(controlPath), name.slice(1, -CONTROL_SUFFIX.length));
}
