// `sockvisor systemd-unit [run options] -- COMMAND [ARGS...]`: prints a unit file for that run.
// The options are checked as `run` checks them (exit 2 on bad input), except the socket paths,
// which may belong to the service running now. `sockvisor systemd-unit --template` prints
// sockvisor@.service, which runs /etc/sockvisor/NAME.toml for each instance NAME.
import { delimiter } from 'node:path';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { planRun } from '../config/run-config.js';
import { UsageError } from '../errors.js';
import { createLogger, flushLogs } from './logger.js';
import { reportError } from './report-error.js';
import { givenOptions, layeredRunOptions, runOptions, type RunArgs } from './run-command.js';

export const command = 'systemd-unit';
export const describe = 'print a systemd unit (Type=notify, reload = handover) that runs sockvisor with these options';

type UnitArgs = RunArgs & { template?: boolean };

export function builder(yargs: Argv): Argv<UnitArgs> {
  return runOptions(yargs.usage('$0 systemd-unit [run options] -- COMMAND [ARGS...]\n$0 systemd-unit --template'))
    .option('template', { type: 'boolean', describe: 'print sockvisor@.service instead: one instance per /etc/sockvisor/NAME.toml' })
    .example(
      '$0 systemd-unit -s /run/app/app.sock --socket-owner app:www-data -- uwsgi --ini /srv/app/uwsgi.ini > /etc/systemd/system/app.service',
      'a unit for uWSGI behind sockvisor',
    )
    .example(
      '$0 systemd-unit --template > /etc/systemd/system/sockvisor@.service',
      'then: systemctl enable --now sockvisor@shop runs /etc/sockvisor/shop.toml',
    ) as unknown as Argv<UnitArgs>;
}

/** How systemd starts this sockvisor: the installed command when there is one (see sockvisorExecStart). */
function execStart(sockvisorExecStart: typeof import('../systemd/unit.js').sockvisorExecStart): string[] {
  return sockvisorExecStart({ script: process.argv[1]!, node: process.execPath, path: (process.env.PATH ?? '').split(delimiter) });
}

/** The words after `systemd-unit`: the run options as typed, and COMMAND with its arguments. */
function splitWords(words: string[], positional: string[]): { runArgs: string[]; command: string[] } {
  const rest = words.slice(words.indexOf('systemd-unit') + 1);
  const dashes = rest.indexOf('--');
  if (dashes >= 0) return { runArgs: rest.slice(0, dashes), command: [...positional, ...rest.slice(dashes + 1)] };
  return { runArgs: rest.slice(0, rest.length - positional.length), command: positional };
}

export async function handler(argv: ArgumentsCamelCase<UnitArgs>): Promise<void> {
  // Loaded here, not at the top: every other command (run above all) would pay for loading it.
  const { sockvisorExecStart, systemdUnit, templateUnit } = await import('../systemd/unit.js');
  const given = givenOptions(argv);
  const logger = createLogger(given.logFormat, given.logLevel);
  let status = 0;
  try {
    if (argv.template === true) {
      const others = hideBin(process.argv).filter((word) => word !== 'systemd-unit' && word !== '--template');
      if (others.length > 0) {
        throw new UsageError(
          `sockvisor systemd-unit --template takes nothing else (got ${others.join(' ')}): the options and COMMAND go in /etc/sockvisor/NAME.toml.`,
        );
      }
      process.stdout.write(templateUnit(execStart(sockvisorExecStart)));
      await flushLogs(logger);
      process.exit(0);
    }
    const positional = argv._.map(String);
    const words = splitWords(hideBin(process.argv), positional);
    const { runArgs } = words;
    const { options, command } = await layeredRunOptions(argv, given, words.command);
    const plan = planRun({ ...options, command }, { cwd: process.cwd(), env: process.env, preflight: false });
    process.stdout.write(
      systemdUnit({ plan, execStart: execStart(sockvisorExecStart), runArgs, commandArgs: command.slice(1), env: process.env }),
    );
  } catch (error) {
    status = reportError(error, logger);
  }
  // Log records are written off the event loop (logger.ts): the refusal must reach stderr first.
  await flushLogs(logger);
  process.exit(status);
}
