// Reading and rewriting a uWSGI command line, so that `sockvisor -- uwsgi <its usual arguments>`
// works unchanged: sockvisor learns the socket path, mode and owner from it, and uWSGI is told to
// adopt the held socket (fd://N) instead of binding the path itself.
import { basename, isAbsolute, resolve } from 'node:path';

/**
 * uWSGI options that bind a socket, with the protocol in the option name. `fd://N` works for each
 * (core/socket.c adopts an inherited fd whatever the protocol), so rewriting keeps the protocol.
 */
const SOCKET_OPTIONS = new Set([
  'socket',
  'uwsgi-socket',
  'http-socket',
  'http11-socket',
  'fastcgi-socket',
  'fastcgi-nph-socket',
  'scgi-socket',
  'scgi-nph-socket',
  'raw-socket',
  'puwsgi-socket',
  'suwsgi-socket',
  'ssl-socket',
  'https-socket',
]);
const SHORT_SOCKET = 's';
/** chmod-socket takes an optional argument: only an attached value (=020, -C020) belongs to it. */
const CHMOD_OPTIONS = new Set(['chmod-socket', 'chmod']);
const SHORT_CHMOD = 'C';

/** One socket option as written in the uWSGI arguments. */
export interface UwsgiSocketOption {
  /** the option as written: '-s', '--socket', '--http-socket' */
  option: string;
  value: string;
  /** index of the token holding the option */
  index: number;
  /** 'separate': value in the next token; 'attached': --opt=value or -svalue */
  form: 'separate' | 'attached';
}

/** What a uWSGI command line says about its sockets and their permissions. */
export interface UwsgiArgs {
  sockets: UwsgiSocketOption[];
  /** --chmod-socket: true when given bare (uWSGI then uses 0666) */
  chmod?: string | true;
  chown?: string;
  uid?: string;
  gid?: string;
}

/** Whether COMMAND is uWSGI: its file name is `uwsgi` or starts with it (uwsgi-core, uwsgi_python3). */
export function isUwsgi(command: string): boolean {
  return basename(command).startsWith('uwsgi');
}

interface Token {
  name: string;
  short: boolean;
  attached: string | undefined;
}

/** Splits --name=value, --name, -xVALUE, -x into their parts; null for a non-option. */
function readToken(arg: string): Token | null {
  if (arg.startsWith('--') && arg.length > 2) {
    const eq = arg.indexOf('=');
    return eq < 0 ? { name: arg.slice(2), short: false, attached: undefined } : { name: arg.slice(2, eq), short: false, attached: arg.slice(eq + 1) };
  }
  if (arg.startsWith('-') && arg.length > 1 && arg !== '-') {
    return { name: arg.slice(1, 2), short: true, attached: arg.length > 2 ? arg.slice(2) : undefined };
  }
  return null;
}

/** Finds the socket, chmod-socket, chown-socket, uid and gid options of a uWSGI command line. */
export function readUwsgiArgs(args: string[]): UwsgiArgs {
  const result: UwsgiArgs = { sockets: [] };
  for (let i = 0; i < args.length; i++) {
    const token = readToken(args[i]!);
    if (!token) continue;
    const valueOf = (): string | undefined => token.attached ?? args[i + 1];
    const isSocket = token.short ? token.name === SHORT_SOCKET : SOCKET_OPTIONS.has(token.name);
    if (isSocket) {
      const value = valueOf();
      if (value === undefined) continue;
      result.sockets.push({ option: token.short ? `-${token.name}` : `--${token.name}`, value, index: i, form: token.attached !== undefined ? 'attached' : 'separate' });
      if (token.attached === undefined) i++;
    } else if (token.short ? token.name === SHORT_CHMOD : CHMOD_OPTIONS.has(token.name)) {
      result.chmod = token.attached ?? true;
    } else if (!token.short && (token.name === 'chown-socket' || token.name === 'uid' || token.name === 'gid')) {
      const value = valueOf();
      if (value === undefined) continue;
      if (token.name === 'chown-socket') result.chown = value;
      else result[token.name] = value;
      if (token.attached === undefined) i++;
    }
  }
  return result;
}

/** A unix socket path in uWSGI's syntax: not TCP (`:3031`, `host:port`), not `fd://`, not abstract (`@name`). */
export function isUwsgiUnixPath(value: string): boolean {
  if (value.startsWith('fd://') || value.startsWith('@') || value.startsWith('[')) return false;
  if (value.includes(',')) return false; // ssl/https sockets carry certificate arguments
  return !/^[A-Za-z0-9.-]*:\d+$/.test(value);
}

export interface HeldSocketRef {
  path: string;
  fd: number;
}

/**
 * Rewrites every socket option that names a held socket to `fd://N` (same option, so the same
 * protocol), and puts `--socket fd://N` first for each held socket no option names: with only
 * LISTEN_FDS, uWSGI 2.0 dies on its first reload (FACTS.md).
 */
export function rewriteUwsgiArgs(args: string[], held: HeldSocketRef[], cwd: string): { args: string[]; unmatched: UwsgiSocketOption[] } {
  const out = [...args];
  const named = new Set<number>();
  const unmatched: UwsgiSocketOption[] = [];
  for (const option of readUwsgiArgs(args).sockets) {
    const path = isUwsgiUnixPath(option.value) ? (isAbsolute(option.value) ? resolve(option.value) : resolve(cwd, option.value)) : null;
    const socket = path === null ? undefined : held.find((s) => s.path === path);
    if (!socket) {
      if (!option.value.startsWith('fd://')) unmatched.push(option);
      continue;
    }
    named.add(socket.fd);
    const fdValue = `fd://${socket.fd}`;
    if (option.form === 'separate') out[option.index + 1] = fdValue;
    else out[option.index] = option.option.startsWith('--') ? `${option.option}=${fdValue}` : `${option.option}${fdValue}`;
  }
  const added = held.filter((s) => !named.has(s.fd)).flatMap((s) => ['--socket', `fd://${s.fd}`]);
  return { args: [...added, ...out], unmatched };
}
