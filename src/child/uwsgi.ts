// Reading and rewriting a uWSGI command line, so that `sockvisor -- uwsgi <its usual arguments>`
// works unchanged: sockvisor learns the socket path, mode and owner from it, and uWSGI is told to
// adopt the held socket (fd://N) instead of binding the path itself.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
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

/** `master = true` in the [uwsgi] section of an ini file; false when it cannot be read. */
function iniEnablesMaster(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  let inUwsgi = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      inUwsgi = section[1] === 'uwsgi';
      continue;
    }
    const m = inUwsgi ? /^master\s*(?:=\s*(.*))?$/.exec(line) : null;
    if (m) return TRUE_VALUES.test((m[1] ?? '').trim());
  }
  return false;
}

/**
 * Whether uWSGI runs with a master process (--master, -M, or master = true in an --ini file):
 * only a master runs the hook that makes the drain signal graceful; without one, SIGPWR would
 * kill uWSGI outright, so the stop signal drains instead.
 */
export function usesUwsgiMaster(args: string[], cwd: string): boolean {
  for (let i = 0; i < args.length; i++) {
    const token = readToken(args[i]!);
    if (!token) continue;
    if (token.short ? token.name === 'M' && token.attached === undefined : token.name === 'master') {
      return token.short || token.attached === undefined || TRUE_VALUES.test(token.attached);
    }
    if (!token.short && token.name === 'ini') {
      const value = token.attached ?? args[i + 1];
      if (value === undefined) continue;
      const file = isAbsolute(value) ? value : resolve(cwd, value);
      if (iniEnablesMaster(file)) return true;
    }
  }
  return false;
}
