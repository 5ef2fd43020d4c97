// Every option of `sockvisor run`, defined once: the command line (yargs), SOCKVISOR_* environment
// variables and config files are all read through this table. Values are checked in run-config.ts.
import type { RestartMode } from '../supervisor/restart-policy.js';
import { RESTART_MODES } from '../supervisor/restart-policy.js';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_FORMAT: LogFormat = 'auto';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
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
  describe: string;
}

/** The table: order is the order of `sockvisor --help`. */
export const RUN_OPTIONS: readonly OptionDefinition[] = [
  { name: 'socket', key: 'socket', aliases: ['s'], value: { type: 'strings' }, describe: 'socket to create and hold: PATH, HOST:PORT or [V6]:PORT, each optionally NAME= (repeatable)' },
  { name: 'socket-mode', key: 'socketMode', aliases: ['chmod-socket'], value: { type: 'string' }, describe: 'mode of the socket file: octal (0660, 660, 020) or symbolic (u=rw,g=rw); default 0660' },
  { name: 'socket-owner', key: 'socketOwner', aliases: ['chown-socket'], value: { type: 'string' }, describe: 'owner and group of the socket file: USER[:GROUP], names or numbers' },
  { name: 'socket-group', key: 'socketGroup', value: { type: 'string' }, describe: 'group of the socket file alone' },
  { name: 'socket-allow', key: 'socketAllow', value: { type: 'strings' }, describe: 'let USER connect through a POSIX ACL entry on the socket, no root needed (repeatable)' },
  { name: 'socket-backlog', key: 'socketBacklog', value: { type: 'number' }, describe: 'listen backlog (default: /proc/sys/net/core/somaxconn)' },
  { name: 'user', key: 'user', value: { type: 'string' }, describe: 'run COMMAND as this user, with its supplementary groups' },
  { name: 'group', key: 'group', value: { type: 'string' }, describe: 'run COMMAND with this primary group' },
  { name: 'restart', key: 'restart', value: { type: 'choice', choices: RESTART_MODES }, describe: 'when to start COMMAND again (default always)' },
  { name: 'restart-delay', key: 'restartDelay', value: { type: 'number' }, describe: 'first delay before restarting a child that exited quickly, seconds (default 0.05); it doubles on each quick exit' },
  { name: 'restart-delay-max', key: 'restartDelayMax', value: { type: 'number' }, describe: 'longest restart delay, seconds (default 5)' },
  { name: 'healthy-after', key: 'healthyAfter', value: { type: 'number' }, describe: 'a run this long (seconds) counts as healthy: restart at once and reset the backoff (default 1)' },
  { name: 'give-up-after', key: 'giveUpAfter', value: { type: 'number' }, describe: 'give up (exit 1) after quick exits for this long, seconds; 0 never (default 30)' },
  { name: 'stop-signal', key: 'stopSignal', value: { type: 'string' }, describe: 'signal that stops COMMAND (default SIGINT for uWSGI, SIGTERM otherwise)' },
  { name: 'stop-timeout', key: 'stopTimeout', value: { type: 'number' }, describe: 'seconds to wait after the stop signal before SIGKILL to the process group (default 10)' },
  { name: 'drain-signal', key: 'drainSignal', value: { type: 'string' }, describe: 'signal that makes the old child finish its requests and exit in a handover (default: for uWSGI with a master SIGPWR, mapped by sockvisor to its graceful shutdown; otherwise the stop signal)' },
  { name: 'ready-after', key: 'readyAfter', value: { type: 'number' }, describe: 'a child that sends nothing on its NOTIFY_SOCKET counts as ready after this many seconds (default 1; uWSGI: only its READY=1 counts)' },
  { name: 'handover-timeout', key: 'handoverTimeout', value: { type: 'number' }, describe: 'seconds the new child of a reload (SIGHUP) gets to become ready; else it is stopped and the old one keeps serving (default 60)' },
  {
    name: 'health-check',
    key: 'healthCheck',
    value: { type: 'string' },
    describe:
      'probe the first socket with a request, uwsgi:/PATH or http:/PATH; ' +
      'a child that does not answer --health-failures times in a row is replaced (default: off)',
  },
  { name: 'health-interval', key: 'healthInterval', value: { type: 'number' }, describe: 'seconds between health checks (default 10)' },
  {
    name: 'health-timeout',
    key: 'healthTimeout',
    value: { type: 'number' },
    describe: 'seconds a health check waits for the first byte of an answer (default 5)',
  },
  {
    name: 'health-failures',
    key: 'healthFailures',
    value: { type: 'number' },
    describe: 'failed health checks in a row that replace the child (default 3)',
  },
  {
    name: 'metrics',
    key: 'metrics',
    value: { type: 'string' },
    describe: 'serve Prometheus metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:9101 (default: off; see docs/operations.md)',
  },
  { name: 'pass', key: 'pass', value: { type: 'choice', choices: PASS_MODES }, describe: 'sockets at fd 3.. with LISTEN_FDS (fd), or the one socket as fd 0 (stdin); default fd' },
  { name: 'log-format', key: 'logFormat', value: { type: 'choice', choices: LOG_FORMATS }, describe: 'auto: pretty on a terminal, JSON otherwise (default auto)' },
  { name: 'log-level', key: 'logLevel', value: { type: 'choice', choices: LOG_LEVELS }, describe: 'least severe records logged (default info)' },
  {
    name: 'insecure-path',
    key: 'insecurePath',
    value: { type: 'boolean' },
    describe:
      'start even when users sockvisor does not trust may write a folder (or own a symbolic link) on the way to a socket; ' +
      'each start then logs a warning naming it (see docs/security.md)',
  },
];

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
