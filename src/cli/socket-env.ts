// SOCKVISOR_SOCKET, read by the commands that are not run (run reads every SOCKVISOR_* through yargs).
import { parseSocketSpec } from '../socket/spec.js';

/** The --socket value run would get from the environment, as a list (empty when unset). */
export function socketsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env.SOCKVISOR_SOCKET;
  return value === undefined || value === '' ? [] : [value];
}

/** The path of a --socket value (NAME=PATH or PATH), resolved as run resolves it. */
export function socketPathOf(value: string): string {
  return parseSocketSpec(value, 0, process.cwd()).path;
}
