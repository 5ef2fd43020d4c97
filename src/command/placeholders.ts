// `{fd}` and `{fd:NAME}` in the arguments of programs other than uWSGI: the numbers of the
// descriptors the sockets are passed on (gunicorn --bind fd://{fd}, uvicorn --fd {fd}).
import { UsageError } from '../errors.js';

const PLACEHOLDER = /\{fd(?::([^}]*))?\}/g;

export interface NamedFd {
  name: string;
  fd: number;
}

/** Whether any argument holds a {fd} or {fd:NAME} placeholder. */
export function hasFdPlaceholder(args: string[]): boolean {
  return args.some((arg) => /\{fd(?::[^}]*)?\}/.test(arg));
}

/** Replaces {fd} with the first socket's fd and {fd:NAME} with the named socket's fd. */
export function substituteFds(args: string[], sockets: NamedFd[]): string[] {
  return args.map((arg) =>
    arg.replace(PLACEHOLDER, (_match, name: string | undefined) => {
      if (name === undefined) return String(sockets[0]!.fd);
      const socket = sockets.find((s) => s.name === name);
      if (!socket) {
        const known = sockets.map((s) => s.name).join(', ');
        throw new UsageError(
          `The argument '${arg}' names the socket '${name}', but the sockets are named ${known}: use one of those names, or name a socket with -s ${name}=PATH.`,
        );
      }
      return String(socket.fd);
    }),
  );
}
