// `sockvisor [run] [options] -- COMMAND [ARGS...]`: collects options, the library does the rest.
// Precedence, option by option: command line > SOCKVISOR_* environment (yargs merges both) >
// --config FILE > the defaults in src/config.
import type { Argv, ArgumentsCamelCase, Options } from 'yargs';
import type { ConfigFile } from '../config/config-file.js';
import { describeDefault, layerOptions, RUN_OPTIONS, type SockvisorOptions } from '../config/options.js';
import { planRun } from '../config/run-config.js';
import { exitImmediately } from '../native.js';
import { runSockvisor } from '../run.js';
import { createLogger, flushLogs } from './logger.js';
import { reportError } from './report-error.js';

export interface RunArgs {
  config?: string;
  '--'?: (string | number)[];
  _: (string | number)[];
  [key: string]: unknown;
}

export const command = ['run', '$0'];
export const describe = 'create and hold the socket(s), then run and supervise COMMAND on them';

/**
 * A yargs option from the table. Its default is only shown (defaultDescription), never given to yargs:
 * a yargs default would hide the config file's value.
 */
function yargsOption(definition: (typeof RUN_OPTIONS)[number]): Options {
  const { value } = definition;
  // Not `array: true` for --socket: that would swallow COMMAND when -- is left out. Repeats still collect.
  const type = value.type === 'number' ? 'number' : value.type === 'boolean' ? 'boolean' : 'string';
  return {
    type,
    describe: definition.describe,
    defaultDescription: describeDefault(definition.default),
    ...(definition.aliases ? { alias: [...definition.aliases] } : {}),
    ...(value.type === 'choice' ? { choices: [...value.choices] } : {}),
  };
}

/** The options of `run`, from the one table, and --config; shared with systemd-unit. */
export function runOptions(yargs: Argv): Argv {
  let y = yargs;
  for (const definition of RUN_OPTIONS) y = y.option(definition.name, yargsOption(definition));
  return y.option('config', {
    alias: 'c',
    type: 'string',
    describe: 'read options (and COMMAND) from this TOML or JSON file; the command line and SOCKVISOR_* variables win over it',
  });
}

export function builder(yargs: Argv): Argv<RunArgs> {
  return runOptions(yargs.usage('$0 [run] [options] -- COMMAND [ARGS...]'))
    .example('$0 -s /run/app/app.sock --socket-owner app:www-data -- uwsgi --ini app.ini', 'uWSGI on a socket nginx (www-data) can reach')
    .example('$0 -- uwsgi --ini app.ini', "uWSGI's own ini names the socket, its mode and owner: sockvisor reads them and holds it")
    .example(
      '$0 -- uwsgi -s /run/app/app.sock --chmod-socket=020 --uid app --gid www-data ...',
      'an existing uWSGI command line, unchanged',
    )
    .example('$0 --config /etc/sockvisor/app.toml', 'everything from a config file') as unknown as Argv<RunArgs>;
}

/** The options given on the command line or in the environment, as the table names them. */
export function givenOptions(argv: ArgumentsCamelCase<RunArgs>): SockvisorOptions {
  const options: Record<string, unknown> = {};
  for (const { key, value } of RUN_OPTIONS) {
    const given = argv[key];
    if (given === undefined) continue;
    options[key] = value.type === 'strings' ? ([] as unknown[]).concat(given).map(String) : given;
  }
  return options as SockvisorOptions;
}

/** The options of a run command line: given ones (givenOptions(argv)) over the --config file's, and COMMAND from either. */
export async function layeredRunOptions(
  argv: ArgumentsCamelCase<RunArgs>,
  given: SockvisorOptions,
  commandLine: string[],
): Promise<{ options: SockvisorOptions; command: string[]; file?: ConfigFile }> {
  // The TOML parser is loaded only when there is a file to read: most starts have none.
  const file =
    argv.config === undefined ? undefined : (await import('../config/config-file.js')).readConfigFile(argv.config, process.cwd());
  const options = layerOptions(given, file?.options ?? {});
  const command = commandLine.length > 0 ? commandLine : (file?.command ?? []);
  return { options, command, ...(file ? { file } : {}) };
}

export async function handler(argv: ArgumentsCamelCase<RunArgs>): Promise<void> {
  const given = givenOptions(argv);
  // `run` may be typed, or not: positional words before -- are COMMAND too when -- is absent.
  const positional = argv._.map(String).filter((word, i) => !(i === 0 && word === 'run'));
  const commandLine = [...positional, ...(argv['--'] ?? []).map(String)];
  let status: number;
  let logger = createLogger(given.logFormat, given.logLevel);
  try {
    const { options, command, file } = await layeredRunOptions(argv, given, commandLine);
    if (file && (options.logFormat !== given.logFormat || options.logLevel !== given.logLevel))
      logger = createLogger(options.logFormat, options.logLevel);
    if (file) logger.debug({ event: 'config.file', path: file.path }, `options read from ${file.path}`);
    const plan = planRun({ ...options, command }, { cwd: process.cwd(), env: process.env });
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
