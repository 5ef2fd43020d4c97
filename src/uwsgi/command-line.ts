// Reading and rewriting a uWSGI command line, so that `sockvisor -- uwsgi <its usual arguments>`
// works unchanged: sockvisor learns the socket path, mode and owner from it, and uWSGI is told to
// adopt the held socket (fd://N) instead of binding the path itself.
import { isIPv4, isIPv6 } from 'node:net';
import { constants } from 'node:os';
import { basename, isAbsolute, resolve } from 'node:path';
import type { TcpAddress } from '../socket/spec.js';

/**
 * uWSGI options that bind a socket, with the protocol in the option name. `fd://N` works for each
 * (core/socket.c adopts an inherited fd whatever the protocol), so rewriting keeps the protocol.
 */
export const SOCKET_OPTIONS: readonly string[] = [
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
];
const SOCKET_OPTION_SET = new Set(SOCKET_OPTIONS);
/** Short options of uWSGI that take a value, by their long name. */
const SHORT_WITH_VALUE: Record<string, string> = { s: 'socket', x: 'xml', y: 'yaml', j: 'json', S: 'set', d: 'daemonize' };
/** Long options sockvisor reads the value of (besides the socket options). */
const VALUE_OPTIONS = new Set([
  'chown-socket',
  'uid',
  'gid',
  'ini',
  'include',
  'inherit',
  'xml',
  'xmlconfig',
  'yaml',
  'yml',
  'json',
  'js',
  'sqlite',
  'sqlite3',
  'ldap',
  'set',
  'set-placeholder',
  'set-ph',
  'daemonize',
  'daemonize2',
]);
/** chmod-socket takes an optional argument: only an attached value (=020, -C020) belongs to it. */
const CHMOD_OPTIONS = new Set(['chmod-socket', 'chmod']);
const SHORT_CHMOD = 'C';

/** One option of the uWSGI command line that sockvisor reads, as written. */
export interface UwsgiArg {
  /** the long option name: 'socket' for -s too, 'chmod-socket' for -C */
  key: string;
  /** the option as written: '-s', '--socket', '--http-socket' */
  option: string;
  /** undefined for a bare --chmod-socket */
  value: string | undefined;
  /** index of the token holding the option */
  index: number;
  /** 'separate': value in the next token; 'attached': --opt=value or -svalue */
  form: 'separate' | 'attached';
}

/** Any other `--key value` of the command line: uWSGI keeps it as an option %(key) can refer to. */
export interface UwsgiOtherArg {
  key: string;
  value: string;
  index: number;
}

/** One socket option as written in the uWSGI arguments. */
export interface UwsgiSocketOption {
  option: string;
  value: string;
  index: number;
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
    return eq < 0
      ? { name: arg.slice(2), short: false, attached: undefined }
      : { name: arg.slice(2, eq), short: false, attached: arg.slice(eq + 1) };
  }
  if (arg.startsWith('-') && arg.length > 1 && arg !== '-') {
    return { name: arg.slice(1, 2), short: true, attached: arg.length > 2 ? arg.slice(2) : undefined };
  }
  return null;
}

/**
 * The options sockvisor reads from a uWSGI command line, in order: sockets, chmod/chown-socket,
 * uid, gid, config files (--ini, --xml, ...), --set and --daemonize. `others` holds every other
 * `--key value` pair, only to resolve %(key) references in ini files.
 */
export function scanUwsgiArgs(args: string[]): {
  options: UwsgiArg[];
  others: UwsgiOtherArg[];
  positional: { value: string; index: number }[];
} {
  const options: UwsgiArg[] = [];
  const others: UwsgiOtherArg[] = [];
  const positional: { value: string; index: number }[] = [];
  for (let i = 0; i < args.length; i++) {
    const token = readToken(args[i]!);
    if (!token) {
      positional.push({ value: args[i]!, index: i });
      continue;
    }
    const option = token.short ? `-${token.name}` : `--${token.name}`;
    const form = token.attached !== undefined ? 'attached' : 'separate';
    if (token.short ? token.name === SHORT_CHMOD : CHMOD_OPTIONS.has(token.name)) {
      options.push({ key: 'chmod-socket', option, value: token.attached, index: i, form: 'attached' });
      continue;
    }
    const key = token.short
      ? SHORT_WITH_VALUE[token.name]
      : SOCKET_OPTION_SET.has(token.name) || VALUE_OPTIONS.has(token.name)
        ? token.name
        : undefined;
    const next = args[i + 1];
    if (key === undefined) {
      if (token.short) continue;
      if (token.attached !== undefined) others.push({ key: token.name, value: token.attached, index: i });
      else if (next !== undefined && !next.startsWith('-')) others.push({ key: token.name, value: next, index: i });
      continue;
    }
    const value = token.attached ?? next;
    if (value === undefined) continue;
    options.push({ key, option, value, index: i, form });
    if (token.attached === undefined) i++;
  }
  return { options, others, positional };
}

/** Finds the socket, chmod-socket, chown-socket, uid and gid options of a uWSGI command line. */
export function readUwsgiArgs(args: string[]): UwsgiArgs {
  const result: UwsgiArgs = { sockets: [] };
  for (const arg of scanUwsgiArgs(args).options) {
    if (SOCKET_OPTION_SET.has(arg.key)) result.sockets.push({ option: arg.option, value: arg.value!, index: arg.index, form: arg.form });
    else if (arg.key === 'chmod-socket') result.chmod = arg.value ?? true;
    else if (arg.key === 'chown-socket') result.chown = arg.value!;
    else if (arg.key === 'uid' || arg.key === 'gid') result[arg.key] = arg.value!;
  }
  return result;
}

/** What a uWSGI socket value names: a file, a TCP address, or something sockvisor leaves to uWSGI. */
export type UwsgiSocketTarget =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; address: TcpAddress }
  | { kind: 'other'; reason: 'fd' | 'abstract' | 'shared' | 'options' | 'host' | 'auto-port' };

/**
 * Classifies a socket value as uWSGI reads it (core/socket.c): `fd://N` is inherited, `@name` is
 * abstract, `=N` a shared socket, a value with a colon before digits is TCP (`:PORT` is every IPv4
 * interface, a host name is resolved by uWSGI), anything else is a path, relative to `cwd`.
 */
export function classifyUwsgiSocket(value: string, cwd: string): UwsgiSocketTarget {
  if (value.startsWith('fd://')) return { kind: 'other', reason: 'fd' };
  if (value.startsWith('@') || value.startsWith('\\0')) return { kind: 'other', reason: 'abstract' };
  if (value.startsWith('=')) return { kind: 'other', reason: 'shared' };
  if (value.includes(',')) return { kind: 'other', reason: 'options' }; // ssl/https: certificate and key follow
  const v6 = /^\[([^\]]*)\]:(\d+)$/.exec(value);
  const v4 = v6 ? null : /^([^/]*):(\d+)$/.exec(value);
  if (v6 || v4) {
    const [, host = '', portText = ''] = (v6 ?? v4)!;
    const port = Number(portText);
    if (port === 0 || port > 65535) return { kind: 'other', reason: 'auto-port' };
    if (v6) return isIPv6(host) ? { kind: 'tcp', address: { family: 6, address: host, port } } : { kind: 'other', reason: 'host' };
    if (host === '') return { kind: 'tcp', address: { family: 4, address: '0.0.0.0', port } };
    return isIPv4(host) ? { kind: 'tcp', address: { family: 4, address: host, port } } : { kind: 'other', reason: 'host' };
  }
  return { kind: 'unix', path: isAbsolute(value) ? resolve(value) : resolve(cwd, value) };
}

/** A unix socket path in uWSGI's syntax: not TCP (`:3031`, `host:port`), not `fd://`, not abstract (`@name`). */
export function isUwsgiUnixPath(value: string): boolean {
  return classifyUwsgiSocket(value, '/').kind === 'unix';
}

/** A socket sockvisor holds, as the rewriting sees it. */
export interface HeldSocketRef {
  fd: number;
  path?: string;
  tcp?: TcpAddress;
}

/** Whether a uWSGI socket target names this held socket. */
export function namesHeldSocket(target: UwsgiSocketTarget, socket: HeldSocketRef): boolean {
  if (target.kind === 'unix') return socket.path === target.path;
  if (target.kind === 'tcp' && socket.tcp) {
    const a = target.address;
    const b = socket.tcp;
    return a.family === b.family && a.port === b.port && a.address === b.address;
  }
  return false;
}

/** A socket named in uWSGI's configuration files or environment (not its command line) that sockvisor holds. */
export interface ConfigNamedSocket {
  /** the option that names it there, e.g. 'http-socket': the fd://N added uses the same, for the same protocol */
  key: string;
  fd: number;
}

/**
 * Rewrites every socket option that names a held socket to `fd://N` (same option, so the same
 * protocol). A held socket that uWSGI's ini or environment names gets `--KEY fd://N` with that
 * ini's own option: uWSGI then finds the ini's socket "already bound" by name and does not bind it
 * (core/socket.c, uwsgi_bind_sockets). Every other held socket gets `--socket fd://N`: with only
 * LISTEN_FDS, uWSGI 2.0 dies on its first reload (docs/design-notes.md, 'Handing a socket to uWSGI'). Added options come first.
 */
export function rewriteUwsgiArgs(
  args: string[],
  held: HeldSocketRef[],
  cwd: string,
  configNamed: ConfigNamedSocket[] = [],
): { args: string[]; unmatched: UwsgiSocketOption[] } {
  const out = [...args];
  const named = new Set<number>();
  const unmatched: UwsgiSocketOption[] = [];
  for (const option of readUwsgiArgs(args).sockets) {
    const target = classifyUwsgiSocket(option.value, cwd);
    const socket = held.find((s) => namesHeldSocket(target, s));
    if (!socket) {
      if (!option.value.startsWith('fd://')) unmatched.push(option);
      continue;
    }
    named.add(socket.fd);
    const fdValue = `fd://${socket.fd}`;
    if (option.form === 'separate') out[option.index + 1] = fdValue;
    else out[option.index] = option.option.startsWith('--') ? `${option.option}=${fdValue}` : `${option.option}${fdValue}`;
  }
  const added: string[] = [];
  for (const socket of held) {
    if (named.has(socket.fd)) continue;
    const key = configNamed.find((c) => c.fd === socket.fd)?.key ?? 'socket';
    added.push(`--${key}`, `fd://${socket.fd}`);
  }
  return { args: [...added, ...out], unmatched };
}

/**
 * The signal that makes a uWSGI master finish its in-flight requests and exit: uWSGI 2.0 has none
 * of its own (SIGTERM is a brutal reload, SIGINT/SIGQUIT kill the workers). sockvisor maps SIGPWR,
 * which nothing else sends to a service, to uWSGI's graceful shutdown with a master-start hook.
 * Checked with uWSGI 2.0.21 (test/e2e/handover.test.ts): after SIGPWR the old master logs
 * "graceful shutdown triggered", accepts nothing new, finishes its requests; a second master on
 * the same inherited socket serves meanwhile, and the socket still accepts after the old one exits.
 * Not uWSGI's master FIFO ('q'): the master creates it after dropping to --uid, so it fails
 * (mkfifo: Permission denied) in a folder only root may write.
 */
export const UWSGI_DRAIN_SIGNAL = constants.signals.SIGPWR;

/** The arguments that install the drain signal; harmless without --master (no master, no hook). */
export function uwsgiDrainArgs(): string[] {
  return ['--hook-master-start', `unix_signal:${UWSGI_DRAIN_SIGNAL} gracefully_kill_them_all`];
}

const TRUE_VALUES = /^(true|1|yes|on|)$/i;

/**
 * Whether uWSGI runs with a master process (--master, -M, or master = true in its ini files or
 * UWSGI_MASTER): only a master runs the hook that makes the drain signal graceful; without one,
 * SIGPWR would kill uWSGI outright, so the stop signal drains instead.
 */
export function usesUwsgiMaster(args: string[], config?: { options: { key: string; value: string; origin: string }[] }): boolean {
  for (const arg of args) {
    const token = readToken(arg);
    if (!token) continue;
    if (token.short ? token.name === 'M' && token.attached === undefined : token.name === 'master') {
      return token.short || token.attached === undefined || TRUE_VALUES.test(token.attached);
    }
  }
  // The command line's bare flags are read above; the ini files' and environment's values here.
  const fromConfig = config?.options.filter((o) => o.key === 'master' && o.origin !== 'arg').at(-1);
  return fromConfig !== undefined && TRUE_VALUES.test(fromConfig.value.trim());
}
