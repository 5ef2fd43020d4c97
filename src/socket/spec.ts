// What the user asked for in each --socket value, before anything is resolved against the system:
// a unix socket path, or a TCP address to listen on.
import { isIPv4, isIPv6 } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** sun_path holds 108 bytes; glibc, Python and nginx accept at most 107 + NUL (docs/design-notes.md, 'sun_path length'). */
export const MAX_SOCKET_PATH_BYTES = 107;

export interface UnixSocketSpec {
  kind: 'unix';
  name: string;
  /** absolute: what is bound, shown by getsockname() and ss -x, and compared with uWSGI's arguments */
  path: string;
}

export interface TcpAddress {
  family: 4 | 6;
  /** numeric, as inet_pton reads it: 0.0.0.0 / :: for every interface */
  address: string;
  /** 0: the kernel picks one */
  port: number;
}

export interface TcpSocketSpec extends TcpAddress {
  kind: 'tcp';
  name: string;
}

export type SocketSpec = UnixSocketSpec | TcpSocketSpec;

const NAME = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/;
const BRACKETED = /^\[([^\]]*)\]:(\d+)$/;
const HOST_PORT = /^([^/:[\]]*):(\d+)$/;

/** Default LISTEN_FDNAMES entry of the i-th socket when the user gave no NAME=. */
export function defaultSocketName(index: number): string {
  return index === 0 ? 'socket' : `socket${index + 1}`;
}

/** 127.0.0.1:8080, [::1]:8080: the address as people write it. */
export function formatTcpAddress(tcp: TcpAddress): string {
  return tcp.family === 6 ? `[${tcp.address}]:${tcp.port}` : `${tcp.address}:${tcp.port}`;
}

/** The path of a unix socket, the address of a TCP one: for logs and sentences. */
export function describeSocket(spec: SocketSpec): string {
  return spec.kind === 'unix' ? spec.path : formatTcpAddress(spec);
}

/**
 * describeSocket of a socket as held (HeldSocket in create.ts, typed here by shape: create.ts
 * imports this module): a TCP address with the port it listens on, the kernel's choice for port 0.
 */
export function describeHeldSocket(
  socket: { kind: 'unix'; spec: UnixSocketSpec } | { kind: 'tcp'; spec: TcpSocketSpec; port: number },
): string {
  return socket.kind === 'unix' ? socket.spec.path : formatTcpAddress({ ...socket.spec, port: socket.port });
}

/**
 * Reads HOST:PORT, [V6]:PORT, :PORT and *:PORT (every IPv4 interface, as uWSGI reads `:PORT`);
 * null when the value is not written as an address (then it is a path). Host names other than
 * localhost are refused: an address to listen on is a number, and a name may resolve to several.
 */
export function parseTcpAddress(value: string, option = '--socket'): TcpAddress | null {
  const bracketed = BRACKETED.exec(value);
  const plain = bracketed ? null : HOST_PORT.exec(value);
  if (!bracketed && !plain) return null;
  const [, host = '', portText = ''] = (bracketed ?? plain)!;
  const port = Number(portText);
  if (!Number.isInteger(port) || port > 65535) {
    throw new UsageError(`The port in ${option} '${value}' is not between 0 and 65535: give a port like 8080.`);
  }
  if (bracketed) {
    if (!isIPv6(host))
      throw new UsageError(`The ${option} value '${value}' has no IPv6 address between the brackets: write it like [::1]:${port}.`);
    return { family: 6, address: host, port };
  }
  if (host === '' || host === '*') return { family: 4, address: '0.0.0.0', port };
  if (host === 'localhost') return { family: 4, address: '127.0.0.1', port };
  if (isIPv4(host)) return { family: 4, address: host, port };
  throw new UsageError(
    `The ${option} value '${value}' names the host '${host}'; sockvisor listens on addresses, not names: give the address, e.g. 127.0.0.1:${port}, [::1]:${port}, or :${port} for every interface (write ./${value} for a socket file of that name).`,
  );
}

/** Parses one --socket value ([NAME=]PATH or [NAME=]HOST:PORT) into an absolute path or an address, and a name. */
export function parseSocketSpec(value: string, index: number, cwd: string, option = '--socket'): SocketSpec {
  const named = NAME.exec(value);
  const name = named?.[1] ?? defaultSocketName(index);
  const target = named?.[2] ?? value;
  if (target.trim() === '') {
    throw new UsageError(`The ${option} value '${value}' names no path: give a path like /run/app/app.sock.`);
  }
  const tcp = parseTcpAddress(target, option);
  if (tcp) return { kind: 'tcp', name, ...tcp };
  const path = isAbsolute(target) ? resolve(target) : resolve(cwd, target);
  // A newline or other control character in a socket path breaks log lines, unit files and
  // nginx's configuration (a line of its own), and is always a mistake (a pasted string, a $'\n').
  const control = /[\x00-\x1f\x7f]/.exec(path);
  if (control) {
    const code = `\\x${control[0].charCodeAt(0).toString(16).padStart(2, '0')}`;
    throw new UsageError(
      `The socket path ${JSON.stringify(path)} contains the control character ${code}${control[0] === '\n' ? ' (a newline)' : ''}, ` +
        "which would break logs, unit files and nginx's configuration: choose a path without control characters.",
    );
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(
      `The socket path '${path}' is ${bytes} bytes long; a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES} bytes: choose a shorter path, e.g. under /run.`,
    );
  }
  return { kind: 'unix', name, path };
}

/** Whether two specs would listen on the same file or the same address and port. */
function sameTarget(a: SocketSpec, b: SocketSpec): boolean {
  if (a.kind === 'unix') return b.kind === 'unix' && a.path === b.path;
  return b.kind === 'tcp' && a.port !== 0 && a.port === b.port && a.family === b.family && a.address === b.address;
}

/** Parses every --socket value, refusing two sockets with one path or address, or one name. */
export function parseSocketSpecs(values: string[], cwd: string): SocketSpec[] {
  const specs = values.map((value, index) => parseSocketSpec(value, index, cwd));
  for (let i = 0; i < specs.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [specs[j]!, specs[i]!];
      if (sameTarget(a, b)) throw new UsageError(`The socket '${describeSocket(a)}' is given twice: give each --socket once.`);
      if (a.name === b.name) throw new UsageError(`The socket name '${a.name}' is given twice: give each socket its own NAME= .`);
    }
  }
  return specs;
}
