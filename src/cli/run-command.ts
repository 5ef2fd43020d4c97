// `sockvisor [run] [options] -- COMMAND [ARGS...]`: collects options, the library does the rest.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { planRun, type RunOptions } from '../config/run-config.js';
import { exitImmediately } from '../native.js';
import { runSockvisor } from '../run.js';
import { createLogger, flushLogs, LOG_LEVELS, type LogFormat, type LogLevel } from './logger.js';
import { reportError } from './report-error.js';

interface RunArgs extends Omit<RunOptions, 'command' | 'socket'> {
  socket?: string | string[];
  logFormat: LogFormat;
  logLevel: LogLevel;
  '--'?: (string | number)[];
  _: (string | number)[];
}

export const command = ['run', '$0'];
export const describe = 'create and hold the socket(s), then run and supervise COMMAND on them';

export function builder(yargs: Argv): Argv<RunArgs> {
  return yargs
    .usage('$0 [run] [options] -- COMMAND [ARGS...]')
    // Not `array: true`: that would swallow COMMAND when -- is left out. Repeats still collect.
    .option('socket', { alias: 's', type: 'string', describe: 'unix socket to create and hold: PATH or NAME=PATH (repeatable)' })
    .option('socket-mode', { alias: 'chmod-socket', type: 'string', describe: 'mode of the socket file: octal (0660, 660, 020) or symbolic (u=rw,g=rw); default 0660' })
    .option('socket-owner', { alias: 'chown-socket', type: 'string', describe: 'owner and group of the socket file: USER[:GROUP], names or numbers' })
    .option('socket-group', { type: 'string', describe: 'group of the socket file alone' })
    .option('socket-backlog', { type: 'number', describe: 'listen backlog (default: /proc/sys/net/core/somaxconn)' })
    .option('user', { type: 'string', describe: 'run COMMAND as this user, with its supplementary groups' })
    .option('group', { type: 'string', describe: 'run COMMAND with this primary group' })
    .option('restart', { choices: ['always', 'on-failure', 'never'] as const, describe: 'when to start COMMAND again (default always)' })
    .option('restart-delay', { type: 'number', describe: 'first delay before restarting a child that exited quickly, seconds (default 0.05); it doubles on each quick exit' })
    .option('restart-delay-max', { type: 'number', describe: 'longest restart delay, seconds (default 5)' })
    .option('healthy-after', { type: 'number', describe: 'a run this long (seconds) counts as healthy: restart at once and reset the backoff (default 1)' })
    .option('give-up-after', { type: 'number', describe: 'give up (exit 1) after quick exits for this long, seconds; 0 never (default 30)' })
    .option('stop-signal', { type: 'string', describe: 'signal that stops COMMAND (default SIGINT for uWSGI, SIGTERM otherwise)' })
    .option('stop-timeout', { type: 'number', describe: 'seconds to wait after the stop signal before SIGKILL to the process group (default 10)' })
    .option('pass', { choices: ['fd', 'stdin'] as const, describe: 'sockets at fd 3.. with LISTEN_FDS (fd), or the one socket as fd 0 (stdin); default fd' })
    .option('log-format', { choices: ['auto', 'json', 'pretty'] as const, default: 'auto' as LogFormat, describe: 'auto: pretty on a terminal, JSON otherwise' })
    .option('log-level', { choices: LOG_LEVELS, default: 'info' as LogLevel })
    .example('$0 -s /run/app/app.sock --socket-owner app:www-data -- uwsgi --ini app.ini', 'uWSGI on a socket nginx (www-data) can reach')
    .example('$0 -- uwsgi -s /run/app/app.sock --chmod-socket=020 --uid app --gid www-data ...', 'an existing uWSGI command line, unchanged') as unknown as Argv<RunArgs>;
}

export async function handler(argv: ArgumentsCamelCase<RunArgs>): Promise<void> {
  const logger = createLogger(argv.logFormat, argv.logLevel);
  // `run` may be typed, or not: positional words before -- are COMMAND too when -- is absent.
  const positional = argv._.map(String).filter((word, i) => !(i === 0 && word === 'run'));
  const command = [...positional, ...(argv['--'] ?? []).map(String)];
  let status: number;
  try {
    const socket = argv.socket === undefined ? [] : ([] as string[]).concat(argv.socket);
    const plan = planRun({ ...argv, socket, command }, { cwd: process.cwd(), env: process.env });
    status = await runSockvisor(plan, logger);
  } catch (error) {
    status = reportError(error, logger);
  }
  logger.info({ event: 'supervisor.exit', status }, `sockvisor exits with status ${status}`);
  // A write stuck in a stderr pipe nobody reads holds a libuv pool thread, and process.exit()
  // would wait for it forever (libuv joins its pool at exit): past the deadline, leave at once.
  if (!(await flushLogs(logger))) exitImmediately(status);
  process.exit(status);
}
