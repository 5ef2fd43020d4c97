// uWSGI's whole configuration as far as sockets are concerned: its UWSGI_* environment, its command
// line and the ini files that command line reads, in the order uWSGI reads them, with uWSGI's
// substitutions (core/uwsgi.c, uwsgi_setup: environment, command line and files first, then the
// $(ENV), @(file) and %(option) passes over every option). sockvisor must know every socket uWSGI
// would bind: a path uWSGI binds itself is unlinked and recreated at every restart, which is what
// sockvisor exists to prevent. What it cannot read with certainty it refuses, in one sentence.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { formatTcpAddress, type TcpAddress } from '../socket/spec.js';
import { readIniFile, type IniOption, type IniReadContext } from './ini.js';
import { classifyUwsgiSocket, scanUwsgiArgs, SOCKET_OPTIONS, type UwsgiArg, type UwsgiSocketTarget } from './command-line.js';

/** One option of uWSGI's configuration, wherever it came from, after uWSGI's substitutions. */
export interface UwsgiOption {
  key: string;
  value: string;
  origin: 'env' | 'arg' | 'ini';
  /** for sentences: "app.ini line 3", "the environment variable UWSGI_SOCKET", "uWSGI's command line" */
  where: string;
  /** the command-line option, when origin is 'arg' */
  arg?: UwsgiArg | undefined;
  /** what sockvisor could not resolve in the value: %k, %(a + b), $(UNSET), ... */
  unreadable: string[];
  /** inside an if-.../for block of an ini file */
  conditional: boolean;
  /** an ini line whose bytes are not UTF-8 */
  notUtf8?: boolean;
}

/** A socket uWSGI's configuration names. */
export interface UwsgiSocket {
  option: UwsgiOption;
  target: UwsgiSocketTarget;
}

/** What sockvisor needs from uWSGI's configuration. */
export interface UwsgiConfig {
  options: UwsgiOption[];
  sockets: UwsgiSocket[];
  /** the last chmod-socket: true when bare (uWSGI then uses 0666) */
  chmod?: string | true | undefined;
  chown?: string | undefined;
  uid?: string | undefined;
  gid?: string | undefined;
  /** ini files read, in order */
  files: string[];
  /** whether anything came from files or the environment: then uWSGI itself is asked to confirm (confirmWithUwsgi) */
  fromConfig: boolean;
  warnings: string[];
}

export interface UwsgiConfigContext {
  /** uWSGI's working folder */
  cwd: string;
  /** uWSGI's environment */
  env: NodeJS.ProcessEnv;
}

/** Options whose values decide which sockets uWSGI binds and with which permissions. */
const SOCKET_KEYS = new Set([...SOCKET_OPTIONS, 'chmod-socket', 'chown-socket', 'uid', 'gid']);
/** Ways of loading configuration that sockvisor does not read, by option. */
const OTHER_LOADERS = new Set(['xml', 'xmlconfig', 'yaml', 'yml', 'json', 'js', 'sqlite', 'sqlite3', 'ldap', 'inherit']);
const CONFIG_EXTENSIONS = new Set(['.ini', '.xml', '.yaml', '.yml', '.json', '.js', '.sqlite', '.ldap']);
/** UWSGI_* variables uWSGI keeps for itself instead of reading as options (core/uwsgi.c, parse_sys_envs). */
const INTERNAL_ENV = new Set([
  'RELOADS',
  'ORIGINAL_PROC_NAME',
  'VASSALS_DIR',
  'EMPEROR_FD',
  'EMPEROR_FD_CONFIG',
  'EMPEROR_PROXY',
  'BROODLORD_NUM',
  'JAIL_PID',
]);

function refuseLoader(kind: string, where: string): never {
  throw new UsageError(
    `uWSGI's ${kind} configuration (${where}) is not read by sockvisor, which must know every socket uWSGI would bind: write the configuration as an ini file ([uwsgi] section, one key = value per line) and give it with --ini.`,
  );
}

function refuseDaemonize(where: string): never {
  throw new UsageError(
    `uWSGI's daemonize (${where}) makes uWSGI leave sockvisor, which would then start it again and again: remove it; sockvisor keeps uWSGI in the foreground (use logto = FILE for a log file).`,
  );
}

/** The environment's UWSGI_* options, in order: UWSGI_HTTP_SOCKET is http-socket (core/uwsgi.c, env_to_arg). */
function envOptions(env: NodeJS.ProcessEnv): { key: string; value: string; name: string }[] {
  const result: { key: string; value: string; name: string }[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('UWSGI_') || value === undefined || INTERNAL_ENV.has(name.slice(6))) continue;
    result.push({ key: name.slice(6).toLowerCase().replace(/_/g, '-'), value, name });
  }
  return result;
}

/** Reads an ini (and what it includes) into options; refuses other loaders and daemonize found inside. */
function addIni(options: UwsgiOption[], arg: string, ini: IniReadContext, files: string[]): void {
  for (const o of readIniFile(arg, ini)) {
    const where = `${o.file} line ${o.line}`;
    if (!files.includes(o.file)) files.push(o.file);
    if (OTHER_LOADERS.has(o.key) || (o.key === 'include' && extname(o.value) !== '.ini')) refuseLoader(`${o.key} = ${o.value}`, where);
    if (o.key === 'daemonize' || o.key === 'daemonize2') refuseDaemonize(where);
    options.push(fromIni(o, where));
  }
}

function fromIni(o: IniOption, where: string): UwsgiOption {
  const { key, value, conditional, notUtf8 } = o;
  return { key, value, origin: 'ini', where, unreadable: [...o.unreadable], conditional, notUtf8 };
}

/** Replaces NAME in X(NAME) with lookup(NAME); unresolved ones stay as written, and are reported. */
function substitute(option: UwsgiOption, marker: '$' | '@' | '%', lookup: (name: string) => string | undefined): void {
  const pattern = new RegExp(`\\${marker}\\(([^)]*)\\)`, 'g');
  option.value = option.value.replace(pattern, (whole, name: string) => {
    const found = lookup(name);
    if (found === undefined) {
      option.unreadable.push(whole);
      return whole;
    }
    return found;
  });
}

/** @(FILE): the file's content without its last newline (uwsgi_simple_file_read). */
function readSubstitutedFile(name: string, option: UwsgiOption, cwd: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return undefined; // exec://, http://, ...: not read by sockvisor
  try {
    return readFileSync(resolve(cwd, name), 'utf8').replace(/\n$/, '');
  } catch (error) {
    throw new UsageError(
      `Cannot read the file '${name}' that ${option.where} includes with @(${name}) (${(error as NodeJS.ErrnoException).code}): uWSGI could not either; check the path.`,
    );
  }
}

/** The uWSGI configuration of `uwsgi ARGS` started in context.cwd with context.env. */
export function readUwsgiConfig(args: string[], context: UwsgiConfigContext): UwsgiConfig {
  const options: UwsgiOption[] = [];
  const files: string[] = [];
  const ini: IniReadContext = { cwd: context.cwd };
  let fromConfig = false;

  for (const e of envOptions(context.env)) {
    fromConfig = true;
    const where = `the environment variable ${e.name}`;
    if (OTHER_LOADERS.has(e.key)) refuseLoader(`${e.key} ${e.value}`, where);
    if (e.key === 'daemonize' || e.key === 'daemonize2') refuseDaemonize(where);
    options.push({ key: e.key, value: e.value, origin: 'env', where, unreadable: [], conditional: false });
    if (e.key === 'ini') addIni(options, e.value, ini, files);
  }

  const scanned = scanUwsgiArgs(args);
  const consumed = new Set(scanned.others.filter((o) => args[o.index] === `--${o.key}`).map((o) => o.index + 1));
  const items = [
    ...scanned.options.map((arg) => ({ index: arg.index, arg })),
    ...scanned.others.map((other) => ({ index: other.index, other })),
  ].sort((a, b) => a.index - b.index);
  for (const item of items) {
    if ('other' in item && item.other) {
      options.push({
        key: item.other.key,
        value: item.other.value,
        origin: 'arg',
        where: "uWSGI's command line",
        unreadable: [],
        conditional: false,
      });
      continue;
    }
    const arg = (item as { arg: UwsgiArg }).arg;
    const where = `uWSGI's command line (${arg.option})`;
    if (OTHER_LOADERS.has(arg.key)) refuseLoader(`${arg.option} ${arg.value}`, where);
    if (arg.key === 'daemonize' || arg.key === 'daemonize2') refuseDaemonize(where);
    if (arg.key === 'set' && arg.value !== undefined) {
      // --set KEY=VALUE sets an option (or a placeholder) as if given as --KEY VALUE.
      const eq = arg.value.indexOf('=');
      if (eq > 0)
        options.push({
          key: arg.value.slice(0, eq),
          value: arg.value.slice(eq + 1),
          origin: 'arg',
          where,
          arg,
          unreadable: [],
          conditional: false,
        });
      continue;
    }
    if (arg.key === 'set-ph' || arg.key === 'set-placeholder') {
      const eq = arg.value!.indexOf('=');
      if (eq > 0)
        options.push({
          key: arg.value!.slice(0, eq),
          value: arg.value!.slice(eq + 1),
          origin: 'arg',
          where,
          unreadable: [],
          conditional: false,
        });
      continue;
    }
    options.push({ key: arg.key, value: arg.value ?? '', origin: 'arg', where, arg, unreadable: [], conditional: false });
    if (arg.key === 'ini' || (arg.key === 'include' && extname(arg.value!) === '.ini')) addIni(options, arg.value!, ini, files);
    else if (arg.key === 'include') refuseLoader(`${arg.option} ${arg.value}`, where);
  }
  // uWSGI loads the arguments left after its options as config files, by extension.
  for (const p of scanned.positional) {
    const ext = extname(p.value.split(':')[0]!);
    if (consumed.has(p.index) || !CONFIG_EXTENSIONS.has(ext)) continue;
    if (ext !== '.ini') refuseLoader(p.value, "uWSGI's command line");
    addIni(options, p.value, ini, files);
  }
  if (args.some((a) => CONFIG_EXTENSIONS.has(extname(a.split(':')[0]!)))) fromConfig = true;
  if (files.length > 0) fromConfig = true;

  // uWSGI's passes, in its order, over every option.
  for (const o of options) substitute(o, '$', (name) => context.env[name]);
  for (const o of options) substitute(o, '@', (name) => readSubstitutedFile(name, o, context.cwd));
  for (const o of options) {
    substitute(o, '%', (name) => (/\s/.test(name) ? undefined : options.find((x) => x.key === name)?.value));
  }

  const sockets: UwsgiSocket[] = [];
  const config: UwsgiConfig = { options, sockets, files, fromConfig, warnings: [] };
  for (const o of options) {
    if (!SOCKET_KEYS.has(o.key)) {
      if (o.origin === 'ini' && SOCKET_KEYS.has(o.key.replace(/_/g, '-'))) {
        config.warnings.push(
          `${o.where}: uWSGI 2.0 ignores '${o.key}' (option names in ini files are written with dashes): write ${o.key.replace(/_/g, '-')}.`,
        );
      }
      continue;
    }
    checkReadable(o);
    if (o.key === 'chmod-socket') config.chmod = o.arg && o.arg.value === undefined ? true : o.value;
    else if (o.key === 'chown-socket') config.chown = o.value;
    else if (o.key === 'uid' || o.key === 'gid') config[o.key] = o.value;
    else sockets.push({ option: o, target: checkAdoptable(o, context.cwd) });
  }
  return config;
}

/** Refuses a socket-related option of a file or the environment whose value sockvisor cannot know. */
function checkReadable(o: UwsgiOption): void {
  if (o.origin === 'arg') return; // rewritten or read as given, whatever uWSGI substitutes in it
  if (o.conditional) {
    throw new UsageError(
      `${o.key} (${o.where}) is inside an if-/for block, which sockvisor does not evaluate, so it cannot know whether uWSGI binds it: move the line out of the block, or give the socket to sockvisor with -s.`,
    );
  }
  if (o.unreadable.length > 0) {
    throw new UsageError(
      `${o.key} = ${o.value} (${o.where}) uses ${o.unreadable.join(', ')}, which sockvisor cannot resolve as uWSGI will: write the value plainly (sockvisor reads %d %p %s %n %e %c %x %o, $(ENV), @(file) and %(option)).`,
    );
  }
  if (o.value.includes('\n')) throw new UsageError(`${o.key} (${o.where}) spans several lines: give it one line.`);
  if (o.notUtf8) {
    throw new UsageError(
      `${o.key} (${o.where}) is not valid UTF-8, so sockvisor cannot read the path as uWSGI will: ` +
        'rename it to a UTF-8 name and save the file as UTF-8.',
    );
  }
}

/** uWSGI's own name of a TCP socket (core/socket.c, uwsgi_getsockname): `:PORT` for 0.0.0.0. */
export function uwsgiTcpName(tcp: TcpAddress): string {
  if (tcp.family === 4) return tcp.address === '0.0.0.0' ? `:${tcp.port}` : `${tcp.address}:${tcp.port}`;
  const canonical = new URL(`http://[${tcp.address}]/`).hostname.slice(1, -1);
  return formatTcpAddress({ ...tcp, address: canonical });
}

/**
 * The target of a socket named in a file or the environment, if sockvisor can hold it so that
 * uWSGI adopts it: uWSGI skips a configured socket whose name equals, as a string, the name of a
 * socket it already has (uwsgi_socket_is_already_bound), so the value must be the absolute,
 * normalized path, or the address as uWSGI writes it.
 */
function checkAdoptable(o: UwsgiOption, cwd: string): UwsgiSocketTarget {
  const target = classifyUwsgiSocket(o.value, cwd);
  if (o.origin === 'arg') return target;
  if (target.kind === 'unix') {
    if (!isAbsolute(o.value)) {
      throw new UsageError(
        `${o.key} = ${o.value} (${o.where}) is a relative path; uWSGI compares socket names as written, so it would bind it itself, away from the socket sockvisor holds: write the absolute path, e.g. ${o.key} = ${target.path}.`,
      );
    }
    if (target.path !== o.value) {
      throw new UsageError(
        `${o.key} = ${o.value} (${o.where}) is not written the way uWSGI will compare it with the socket sockvisor holds: write ${o.key} = ${target.path}.`,
      );
    }
  } else if (target.kind === 'tcp' && uwsgiTcpName(target.address) !== o.value) {
    throw new UsageError(
      `${o.key} = ${o.value} (${o.where}) is not written the way uWSGI names that address, so uWSGI would listen on it itself beside sockvisor: write ${o.key} = ${uwsgiTcpName(target.address)}.`,
    );
  }
  return target;
}

export interface ConfirmContext extends UwsgiConfigContext {
  uid?: number | undefined;
  gid?: number | undefined;
}

/**
 * Asks uWSGI itself (`uwsgi ARGS --get KEY ...`: it reads its configuration, prints the first value
 * of each option it has, and exits before binding anything) whether it sees the sockets and socket
 * permissions sockvisor read; a difference is refused, naming what differs.
 */
export function confirmWithUwsgi(file: string, argv0: string, args: string[], config: UwsgiConfig, context: ConfirmContext): void {
  const firsts = new Map<string, string>();
  const bare = new Set<string>();
  for (const o of config.options) {
    if (!SOCKET_KEYS.has(o.key) || firsts.has(o.key) || bare.has(o.key)) continue;
    // A bare --chmod-socket has no value at all, and --get prints nothing for it.
    if (o.arg && o.arg.value === undefined) bare.add(o.key);
    else firsts.set(o.key, o.value);
  }
  const present = [...firsts.keys()];
  const absent = [...SOCKET_KEYS].filter((k) => !firsts.has(k));
  const result = spawnSync(file, [...args, ...[...present, ...absent].flatMap((k) => ['--get', k])], {
    argv0,
    cwd: context.cwd,
    env: context.env,
    encoding: 'utf8',
    timeout: 20000,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(context.uid !== undefined ? { uid: context.uid } : {}),
    ...(context.gid !== undefined ? { gid: context.gid } : {}),
  });
  if (result.error || result.status !== 0) {
    const why = result.error?.message ?? (result.stderr.trim().split('\n').pop() || `exit status ${result.status}`);
    throw new UsageError(
      `uWSGI could not read its own configuration (${file} ${args.join(' ')} --get ...: ${why}): fix what it says, then start sockvisor again.`,
    );
  }
  const lines = result.stdout.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '');
  for (let i = 0; i < present.length; i++) {
    const key = present[i]!;
    if (lines[i] !== firsts.get(key)) {
      throw new UsageError(
        `sockvisor read ${key} = ${firsts.get(key)} from uWSGI's configuration, but uWSGI itself reads ${lines[i] === undefined ? 'no such option' : `${key} = ${lines[i]}`}: write that line plainly in the ini file (no logic blocks or computed placeholders), or give the socket with -s.`,
      );
    }
  }
  if (lines.length > present.length) {
    throw new UsageError(
      `uWSGI's configuration names ${lines
        .slice(present.length)
        .map((l) => `'${l}'`)
        .join(
          ', ',
        )} in a way sockvisor could not read (e.g. a socket option given to uWSGI outside --ini, or computed): write the socket lines plainly in the ini file, or give the sockets with -s.`,
    );
  }
}
