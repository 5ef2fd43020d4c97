// Finding COMMAND and writing its arguments so that it adopts the sockets sockvisor holds.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { ExitCode, RunError, UsageError } from '../errors.js';
import { checkGunicornArgs, isGunicorn } from './gunicorn.js';
import type { PassedSocket } from './passed-socket.js';
import { hasFdPlaceholder, substituteFds } from './placeholders.js';
import {
  isUwsgi,
  namesHeldSocket,
  rewriteUwsgiArgs,
  uwsgiDrainArgs,
  type ConfigNamedSocket,
  type UwsgiSocketOption,
} from '../uwsgi/command-line.js';
import type { UwsgiConfig } from '../uwsgi/config.js';

/** Resolves COMMAND like execvp would, with shell-style exit statuses: 127 not found, 126 not executable. */
export function resolveExecutable(command: string, pathEnv: string | undefined, cwd: string): string {
  if (command === '') throw new UsageError('The COMMAND after -- is empty: give the server to run, e.g. -- uwsgi --ini app.ini.');
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (pathEnv ?? '/usr/local/bin:/usr/bin:/bin')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(resolve(cwd, dir), command));
  let notExecutable: string | null = null;
  for (const candidate of candidates) {
    let isFile = false;
    try {
      isFile = statSync(candidate).isFile();
    } catch {
      continue;
    }
    if (!isFile) {
      notExecutable ??= candidate;
      continue;
    }
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      notExecutable ??= candidate;
    }
  }
  if (notExecutable) {
    throw new RunError(
      `The command '${notExecutable}' is not an executable file: check its permissions (chmod +x) or the path.`,
      ExitCode.notExecutable,
    );
  }
  const where = command.includes('/') ? `at '${candidates[0]}'` : `in PATH (${pathEnv ?? ''})`;
  const hint = command === 'uwsgi' ? ' Install uWSGI (Debian: apt-get install uwsgi-core uwsgi-plugin-python3).' : '';
  throw new RunError(`The command '${command}' was not found ${where}: check the name or give its full path.${hint}`, ExitCode.notFound);
}

export interface PreparedArgs {
  args: string[];
  /** uWSGI socket options naming something sockvisor does not hold: uWSGI binds those itself */
  unmatched: UwsgiSocketOption[];
  uwsgi: boolean;
  /**
   * Whether the child also gets the systemd protocol (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES): not
   * when its command line already names its sockets (uWSGI's fd://N, {fd}). A program that honours
   * both adopts each socket twice: gunicorn 20.1 closes fd 3 after adopting it for --bind fd://3,
   * then fails on LISTEN_FDS's fd 3 with EBADF (gunicorn/sock.py, create_sockets); uWSGI 2.0.21
   * attaches fd 3 a second time ("SystemD socket activation detected", then
   * "epoll_ctl(): File exists") and its workers wait on the same socket twice.
   */
  listenFds: boolean;
}

/**
 * Rewrites uWSGI socket options to fd://N (adding --KEY fd://N for sockets its ini names, and
 * --socket fd://N where nothing names a held socket) and adds the drain hook for handovers, or
 * fills {fd} placeholders.
 */
export function prepareArgs(
  command: string,
  args: string[],
  sockets: PassedSocket[],
  cwd: string,
  uwsgiConfig?: UwsgiConfig,
): PreparedArgs {
  if (isUwsgi(command)) {
    const configNamed: ConfigNamedSocket[] = [];
    for (const { option, target } of uwsgiConfig?.sockets ?? []) {
      if (option.origin === 'arg') continue;
      const socket = sockets.find((s) => namesHeldSocket(target, s));
      if (socket && !configNamed.some((c) => c.fd === socket.fd)) configNamed.push({ key: option.key, fd: socket.fd });
    }
    const { args: rewritten, unmatched } = rewriteUwsgiArgs(args, sockets, cwd, configNamed);
    return { args: [...uwsgiDrainArgs(), ...rewritten], unmatched, uwsgi: true, listenFds: false };
  }
  if (!hasFdPlaceholder(args)) return { args: [...args], unmatched: [], uwsgi: false, listenFds: true };
  const substituted = substituteFds(args, sockets);
  if (isGunicorn(command)) checkGunicornArgs(args, substituted, sockets);
  return { args: substituted, unmatched: [], uwsgi: false, listenFds: false };
}
