// Every option of `sockvisor run`, defined once: the command line (yargs), SOCKVISOR_* environment
// variables and config files are all read through this table, and each option's default is declared
// here, with it: run-config.ts and the restart policy take their values from it, and `--help` and the
// option table of docs/usage.md are written from it. Values are checked in run-config.ts.

export type RestartMode = 'always' | 'on-failure' | 'never';
export const RESTART_MODES: readonly RestartMode[] = ['always', 'on-failure', 'never'];

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const PASS_MODES = ['fd', 'stdin'] as const;

/** The options of `sockvisor run` as the user gave them (times in seconds), COMMAND aside. */
export interface SockvisorOptions {
  socket?: string[] | undefined;
  socketMode?: string | undefined;
  socketOwner?: string | undefined;
  socketGroup?: string | undefined;
  socketAllow?: string[] | undefined;
  socketBacklog?: number | undefined;
  user?: string | undefined;
  group?: string | undefined;
  restart?: RestartMode | undefined;
  restartDelay?: number | undefined;
  restartDelayMax?: number | undefined;
  healthyAfter?: number | undefined;
  giveUpAfter?: number | undefined;
  stopSignal?: string | undefined;
  stopTimeout?: number | undefined;
  drainSignal?: string | undefined;
  readyAfter?: number | undefined;
  handoverTimeout?: number | undefined;
  healthCheck?: string | undefined;
  healthInterval?: number | undefined;
  healthTimeout?: number | undefined;
  healthFailures?: number | undefined;
  metrics?: string | undefined;
  pass?: 'fd' | 'stdin' | undefined;
  probe?: string | undefined;
  logFormat?: LogFormat | undefined;
  logLevel?: LogLevel | undefined;
  insecurePath?: boolean | undefined;
}

export type OptionValue =
  | { type: 'string' }
  | { type: 'number' }
  /** a flag: given or not on the command line, true/false in a file or the environment */
  | { type: 'boolean' }
  /** repeatable on the command line, a list (or one string) in a file */
  | { type: 'strings' }
  | { type: 'choice'; choices: readonly string[] };

export interface OptionDefinition {
  /** as written on the command line and in config files: socket-mode */
  name: string;
  key: keyof SockvisorOptions;
  /** other long names (uWSGI's spellings) and one-letter forms */
  aliases?: readonly string[];
  value: OptionValue;
  /** what the value is called in the docs' table: MODE, USER[:GROUP], S (seconds); choices and flags need none */
  arg?: string;
  /** what the option does, for `--help` and the docs; the default is not repeated here */
  describe: string;
  /**
   * Used when the option is given nowhere: a value, or words for a default worked out at start
   * ('somaxconn', 'SIGINT for uWSGI, SIGTERM otherwise') or for no value at all ('off').
   */
  default: OptionDefault;
}

/** A default value, or `{ text }` when no single value is it. */
export type OptionDefault = string | number | boolean | { text: string };

/** The table: order is the order of `sockvisor --help`. */
export const RUN_OPTIONS: readonly OptionDefinition[] = [
  {
    name: 'socket',
    key: 'socket',
    aliases: ['s'],
    value: { type: 'strings' },
    arg: '[NAME=]PATH|HOST:PORT',
    describe:
      'socket to create and hold: a unix socket PATH, or HOST:PORT, [V6]:PORT or :PORT for TCP ' + '(numbers, not host names) (repeatable)',
    default: { text: "uWSGI's own sockets" },
  },
  {
    name: 'socket-mode',
    key: 'socketMode',
    aliases: ['chmod-socket'],
    value: { type: 'string' },
    arg: 'MODE',
    describe: 'mode of the socket file: octal as chmod reads it (0660, 660, 020) or symbolic (u=rw,g=rw), never decimal',
    default: '0660',
  },
  {
    name: 'socket-owner',
    key: 'socketOwner',
    aliases: ['chown-socket'],
    value: { type: 'string' },
    arg: 'USER[:GROUP]',
    describe: 'owner and group of the socket file: names or numbers',
    default: { text: "uWSGI's, else you (as root: nginx's group)" },
  },
  {
    name: 'socket-group',
    key: 'socketGroup',
    value: { type: 'string' },
    arg: 'GROUP',
    describe: 'group of the socket file alone',
    default: { text: 'as --socket-owner' },
  },
  {
    name: 'socket-allow',
    key: 'socketAllow',
    value: { type: 'strings' },
    arg: 'USER',
    describe: 'let USER connect through a POSIX ACL entry on the socket, no root needed (repeatable)',
    default: { text: 'none' },
  },
  {
    name: 'socket-backlog',
    key: 'socketBacklog',
    value: { type: 'number' },
    arg: 'N',
    describe: 'listen backlog: queued connections wait through a restart',
    default: { text: '/proc/sys/net/core/somaxconn' },
  },
  {
    name: 'user',
    key: 'user',
    value: { type: 'string' },
    arg: 'USER',
    describe: 'run COMMAND as this user, with its supplementary groups',
    default: { text: 'unchanged' },
  },
  {
    name: 'group',
    key: 'group',
    value: { type: 'string' },
    arg: 'GROUP',
    describe: 'run COMMAND with this primary group',
    default: { text: 'unchanged' },
  },
  {
    name: 'restart',
    key: 'restart',
    value: { type: 'choice', choices: RESTART_MODES },
    describe: 'when to start COMMAND again',
    default: 'always',
  },
  {
    name: 'restart-delay',
    key: 'restartDelay',
    value: { type: 'number' },
    arg: 'S',
    describe: 'first delay before restarting a child that exited within --healthy-after, seconds; it doubles on each quick exit',
    default: 0.05,
  },
  {
    name: 'restart-delay-max',
    key: 'restartDelayMax',
    value: { type: 'number' },
    arg: 'S',
    describe: 'longest restart delay, seconds',
    default: 5,
  },
  {
    name: 'healthy-after',
    key: 'healthyAfter',
    value: { type: 'number' },
    arg: 'S',
    describe: 'a run this long (seconds) counts as healthy: the next restart is immediate and the backoff resets',
    default: 1,
  },
  {
    name: 'give-up-after',
    key: 'giveUpAfter',
    value: { type: 'number' },
    arg: 'S',
    describe: 'give up (exit 1) after quick exits for this long, seconds; 0 never',
    default: 30,
  },
  {
    name: 'stop-signal',
    key: 'stopSignal',
    value: { type: 'string' },
    arg: 'SIG',
    describe: 'signal that stops COMMAND (SIGTERM is a brutal reload in uWSGI 2.0)',
    default: { text: 'SIGINT for uWSGI, SIGTERM otherwise' },
  },
  {
    name: 'stop-timeout',
    key: 'stopTimeout',
    value: { type: 'number' },
    arg: 'S',
    describe: 'seconds to wait after the stop signal before SIGKILL to the process group',
    default: 10,
  },
  {
    name: 'drain-signal',
    key: 'drainSignal',
    value: { type: 'string' },
    arg: 'SIG',
    describe:
      'signal that makes the old child finish its requests and exit in a handover (then SIGKILL after --stop-timeout); ' +
      "for uWSGI, sockvisor maps SIGPWR to uWSGI's graceful shutdown",
    default: { text: 'SIGPWR for uWSGI with a master, else the stop signal' },
  },
  {
    name: 'ready-after',
    key: 'readyAfter',
    value: { type: 'number' },
    arg: 'S',
    describe:
      'a child that sends nothing on its NOTIFY_SOCKET counts as ready this many seconds after it starts ' +
      '(uWSGI: only its READY=1 counts)',
    default: 1,
  },
  {
    name: 'handover-timeout',
    key: 'handoverTimeout',
    value: { type: 'number' },
    arg: 'S',
    describe: 'seconds the new child of a reload (SIGHUP) gets to become ready; else it is stopped and the old one keeps serving',
    default: 60,
  },
  {
    name: 'health-check',
    key: 'healthCheck',
    value: { type: 'string' },
    arg: 'uwsgi:/PATH|http:/PATH',
    describe:
      'probe the first socket with a GET of PATH in the uwsgi protocol or HTTP/1.0; ' +
      'a child that does not answer --health-failures times in a row is replaced by a handover',
    default: { text: 'off' },
  },
  {
    name: 'health-interval',
    key: 'healthInterval',
    value: { type: 'number' },
    arg: 'S',
    describe: 'seconds between health checks',
    default: 10,
  },
  {
    name: 'health-timeout',
    key: 'healthTimeout',
    value: { type: 'number' },
    arg: 'S',
    describe: 'seconds a health check waits for the first byte of an answer',
    default: 5,
  },
  {
    name: 'health-failures',
    key: 'healthFailures',
    value: { type: 'number' },
    arg: 'N',
    describe: 'failed health checks in a row that replace the child',
    default: 3,
  },
  {
    name: 'pass',
    key: 'pass',
    value: { type: 'choice', choices: PASS_MODES },
    describe: 'the sockets at fd 3.. with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES (fd), or the one socket as fd 0 (stdin)',
    default: 'fd',
  },
  {
    name: 'probe',
    key: 'probe',
    value: { type: 'string' },
    arg: 'HOST:PORT',
    describe:
      'answer HTTP probes on HOST:PORT: GET /ready is 200 while the child is ready, else 503; ' + 'GET /live is 200 while sockvisor runs',
    default: { text: 'off' },
  },
  {
    name: 'metrics',
    key: 'metrics',
    value: { type: 'string' },
    arg: 'HOST:PORT',
    describe: 'serve Prometheus metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:9101 (see docs/operations.md)',
    default: { text: 'off' },
  },
  {
    name: 'log-format',
    key: 'logFormat',
    value: { type: 'choice', choices: LOG_FORMATS },
    describe: 'pino logs on stderr; auto: pretty on a terminal, JSON otherwise',
    default: 'auto',
  },
  {
    name: 'log-level',
    key: 'logLevel',
    value: { type: 'choice', choices: LOG_LEVELS },
    describe: 'least severe records logged',
    default: 'info',
  },
  {
    name: 'insecure-path',
    key: 'insecurePath',
    value: { type: 'boolean' },
    describe:
      'start even when users sockvisor does not trust may write a folder (or own a symbolic link) on the way to a socket; ' +
      'each start then logs a warning naming it (see docs/security.md)',
    default: false,
  },
];

/** The definition of the option with this key. */
export function optionNamed(key: keyof SockvisorOptions): OptionDefinition {
  const definition = RUN_OPTIONS.find((o) => o.key === key);
  if (!definition) throw new Error(`no option with key ${key}`);
  return definition;
}

/** The default of a numeric option (a duration in seconds, a count), as the table declares it. */
export function defaultNumber(key: keyof SockvisorOptions): number {
  const value = optionNamed(key).default;
  if (typeof value !== 'number') throw new Error(`the default of --${optionNamed(key).name} is not a number`);
  return value;
}

/** The default of a choice option, as the table declares it. */
export function defaultChoice<T extends string>(key: keyof SockvisorOptions): T {
  const { default: value, value: type } = optionNamed(key);
  if (type.type !== 'choice' || typeof value !== 'string' || !type.choices.includes(value)) {
    throw new Error(`the default of --${optionNamed(key).name} is not one of its choices`);
  }
  return value as T;
}

/** The default as `--help` and the docs write it: 0660, 10, off, SIGINT for uWSGI, SIGTERM otherwise. */
export function describeDefault(value: OptionDefault): string {
  if (typeof value === 'object') return value.text;
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}

export const DEFAULT_LOG_FORMAT: LogFormat = defaultChoice('logFormat');
export const DEFAULT_LOG_LEVEL: LogLevel = defaultChoice('logLevel');

/** The definition an option name or long alias refers to, as written in a file: socket-mode, chmod-socket. */
export function findOption(name: string): OptionDefinition | undefined {
  return RUN_OPTIONS.find((o) => o.name === name || (o.aliases ?? []).some((a) => a.length > 1 && a === name));
}

/** The options given, over the ones of a lower layer (command line over environment over file), option by option. */
export function layerOptions(...layers: SockvisorOptions[]): SockvisorOptions {
  const result: SockvisorOptions = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer) as [keyof SockvisorOptions, unknown][]) {
      if (value !== undefined && (result as Record<string, unknown>)[key] === undefined) (result as Record<string, unknown>)[key] = value;
    }
  }
  return result;
}

/** SOCKVISOR_* variables that name no option (a typo would otherwise be ignored, or reported as an unknown argument). */
export function unknownEnvironmentOptions(env: NodeJS.ProcessEnv): string[] {
  const names = RUN_OPTIONS.flatMap((o) => [o.name, ...(o.aliases ?? []).filter((a) => a.length > 1)]);
  const known = new Set(['CONFIG', ...names.map((n) => n.toUpperCase().replace(/-/g, '_'))]);
  return Object.keys(env).filter((name) => name.startsWith('SOCKVISOR_') && !known.has(name.slice('SOCKVISOR_'.length)));
}

/**
 * The refusal for a SOCKVISOR_* variable of a flag (--insecure-path) whose value is neither true nor
 * false: yargs would read 'yes' or '1' as false, and the flag would be off without a word.
 */
export function invalidEnvironmentFlag(env: NodeJS.ProcessEnv): string | null {
  for (const option of RUN_OPTIONS) {
    if (option.value.type !== 'boolean') continue;
    const name = `SOCKVISOR_${option.name.toUpperCase().replace(/-/g, '_')}`;
    const value = env[name];
    if (value === undefined || value === 'true' || value === 'false') continue;
    return `sockvisor: the environment variable ${name}='${value}' is neither true nor false: write ${name}=true (or false, or unset it).`;
  }
  return null;
}
