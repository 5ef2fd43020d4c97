// SOCKVISOR_SOCKET, read by the commands that are not run (run reads every SOCKVISOR_* through yargs).
import { UsageError } from '../errors.js';
import { formatTcpAddress, parseSocketSpec } from '../socket/spec.js';

/** The --socket value run would get from the environment, as a list (empty when unset). */
export function socketsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env.SOCKVISOR_SOCKET;
  return value === undefined || value === '' ? [] : [value];
}

/** The path of a --socket value (NAME=PATH or PATH), resolved as run resolves it; a TCP address is refused. */
export function socketPathOf(value: string, command = 'doctor'): string {
  const spec = parseSocketSpec(value, 0, process.cwd());
  if (spec.kind === 'tcp') {
    throw new UsageError(
      `'${value}' is the TCP address ${formatTcpAddress(spec)}; sockvisor ${command} deals with unix socket paths: give the path of a unix socket, e.g. /run/app/app.sock.`,
    );
  }
  return spec.path;
}
