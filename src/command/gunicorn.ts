// gunicorn, recognised by name like uWSGI, for the one way of passing it a socket that breaks it.
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import type { PassedSocket } from './passed-socket.js';

/** Whether COMMAND is gunicorn (its file name starts with gunicorn). */
export function isGunicorn(command: string): boolean {
  return basename(command).startsWith('gunicorn');
}

/**
 * Refuses `--bind fd://{fd}` for a unix socket: gunicorn then unlinks the socket's path whenever it
 * exits, on a stop and on its own failures alike (arbiter.py, stop(): it unlinks unless it got its
 * sockets from LISTEN_FDS), so nginx would get ENOENT while sockvisor still holds the socket.
 * Without --bind, gunicorn adopts the sockets from LISTEN_FDS and never unlinks them.
 */
export function checkGunicornArgs(args: string[], substituted: string[], sockets: PassedSocket[]): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const bind = /^(?:--bind|-b)$/.test(arg) ? i + 1 : /^(?:--bind=|-b)(.+)$/.test(arg) ? i : -1;
    if (bind < 0 || bind >= args.length || !args[bind]!.includes('{fd')) continue;
    const fd = /fd:\/\/(\d+)/.exec(substituted[bind]!)?.[1];
    const socket = sockets.find((s) => String(s.fd) === fd);
    if (socket?.path) {
      throw new UsageError(
        `gunicorn ${arg}${bind === i ? '' : ` ${args[bind]}`} on the unix socket '${socket.path}' makes gunicorn remove that file whenever it exits, leaving nginx a missing socket while sockvisor still holds it: drop the --bind; gunicorn adopts the sockets sockvisor passes in LISTEN_FDS and then never removes them.`,
      );
    }
  }
}
