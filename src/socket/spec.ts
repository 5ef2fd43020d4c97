// What the user asked for in each --socket value, before anything is resolved against the system.
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** sun_path holds 108 bytes; glibc, Python and nginx accept at most 107 + NUL (FACTS.md). */
export const MAX_SOCKET_PATH_BYTES = 107;

export interface UnixSocketSpec {
  name: string;
  /** absolute: what is bound, shown by getsockname() and ss -x, and compared with uWSGI's arguments */
  path: string;
}

const NAME = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/;
const TCP = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):(\d+)$/;

/** Default LISTEN_FDNAMES entry of the i-th socket when the user gave no NAME=. */
export function defaultSocketName(index: number): string {
  return index === 0 ? 'socket' : `socket${index + 1}`;
}

/** Parses one --socket value ([NAME=]PATH) into an absolute path and a name. */
export function parseSocketSpec(value: string, index: number, cwd: string): UnixSocketSpec {
  const named = NAME.exec(value);
  const name = named?.[1] ?? defaultSocketName(index);
  const target = named?.[2] ?? value;
  if (target.trim() === '') {
    throw new UsageError(`The --socket value '${value}' names no path: give a path like /run/app/app.sock.`);
  }
  if (TCP.test(target)) {
    throw new UsageError(
      `The --socket value '${value}' is a TCP address, which this version of sockvisor cannot hold yet: use a unix socket path such as /run/app/app.sock.`,
    );
  }
  const path = isAbsolute(target) ? resolve(target) : resolve(cwd, target);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(
      `The socket path '${path}' is ${bytes} bytes long; a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES} bytes: choose a shorter path, e.g. under /run.`,
    );
  }
  return { name, path };
}

/** Parses every --socket value, refusing two sockets with one path or one name. */
export function parseSocketSpecs(values: string[], cwd: string): UnixSocketSpec[] {
  const specs = values.map((value, index) => parseSocketSpec(value, index, cwd));
  for (let i = 0; i < specs.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [specs[j]!, specs[i]!];
      if (a.path === b.path) throw new UsageError(`The socket path '${a.path}' is given twice: give each --socket once.`);
      if (a.name === b.name) throw new UsageError(`The socket name '${a.name}' is given twice: give each socket its own NAME= .`);
    }
  }
  return specs;
}
