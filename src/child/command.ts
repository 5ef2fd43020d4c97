// Finding COMMAND and writing its arguments so that it adopts the sockets sockvisor holds.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { ExitCode, RunError, UsageError } from '../errors.js';
import { hasFdPlaceholder, substituteFds } from './placeholders.js';
import { isUwsgi, rewriteUwsgiArgs, uwsgiDrainArgs, type UwsgiSocketOption } from './uwsgi.js';

/** Resolves COMMAND like execvp would, with shell-style exit statuses: 127 not found, 126 not executable. */
export function resolveExecutable(command: string, pathEnv: string | undefined, cwd: string): string {
  if (command === '') throw new UsageError('The COMMAND after -- is empty: give the server to run, e.g. -- uwsgi --ini app.ini.');
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter(Boolean).map((dir) => join(resolve(cwd, dir), command));
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
    throw new RunError(`The command '${notExecutable}' is not an executable file: check its permissions (chmod +x) or the path.`, ExitCode.notExecutable);
  }
  const where = command.includes('/') ? `at '${candidates[0]}'` : `in PATH (${pathEnv ?? ''})`;
  const hint = command === 'uwsgi' ? " Install uWSGI (Debian: apt-get install uwsgi-core uwsgi-plugin-python3)." : '';
  throw new RunError(`The command '${command}' was not found ${where}: check the name or give its full path.${hint}`, ExitCode.notFound);
}

export interface PassedSocket {
  name: string;
  path: string;
  fd: number;
}

export interface PreparedArgs {
  args: string[];
  /** uWSGI socket options naming something sockvisor does not hold: uWSGI binds those itself */
  unmatched: UwsgiSocketOption[];
  uwsgi: boolean;
}

/**
 * Rewrites uWSGI socket options to fd://N (adding --socket fd://N where none names a held socket)
 * and adds the drain hook for handovers, or fills {fd} placeholders.
 */
export function prepareArgs(command: string, args: string[], sockets: PassedSocket[], cwd: string): PreparedArgs {
  if (isUwsgi(command)) {
    const { args: rewritten, unmatched } = rewriteUwsgiArgs(args, sockets, cwd);
    return { args: [...uwsgiDrainArgs(), ...rewritten], unmatched, uwsgi: true };
  }
  return { args: hasFdPlaceholder(args) ? substituteFds(args, sockets) : [...args], unmatched: [], uwsgi: false };
}
