// `sockvisor doctor [SOCKET...] [--as USER] [--groups GID,...] [--nginx [-c CONF] [-p PREFIX]] [--explain-log [FILE]] [--json]`:
// collects options, the library judges, this prints. Exit 0 all pass, 1 a check failed, 2 bad usage.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { ExitCode, UsageError } from '../errors.js';
import { socketsFromEnv, socketPathOf } from './socket-env.js';

interface DoctorArgs {
  sockets?: string[];
  socket?: string | string[];
  as?: string;
  groups?: string[];
  json?: boolean;
  nginx?: boolean;
  conf?: string;
  prefix?: string;
  explainLog?: string;
}

export const command = 'doctor [sockets..]';
export const describe = 'tell exactly why nginx cannot reach a socket, and the fix';

export function builder(yargs: Argv): Argv<DoctorArgs> {
  return yargs
    .usage('$0 doctor [SOCKET...] [--as USER] [--groups GID,...] [--nginx [-c CONF] [-p PREFIX]] [--explain-log [FILE]] [--json]')
    .positional('sockets', { type: 'string', array: true, describe: 'socket paths to check' })
    .option('socket', {
      alias: 's',
      type: 'string',
      describe: 'a socket path to check, as given to run (repeatable; SOCKVISOR_SOCKET too)',
    })
    .option('as', { type: 'string', describe: "check as this user (default: nginx's user, else www-data)" })
    .option('groups', {
      type: 'string',
      array: true,
      describe:
        'supplementary groups (names or gids, repeatable or comma-separated) the user checked is in ' +
        "besides its own, e.g. a pod's fsGroup",
    })
    .option('nginx', { type: 'boolean', describe: "check every unix socket nginx's configuration names (runs nginx -T)" })
    .option('conf', { alias: 'c', type: 'string', describe: "nginx's configuration file, as nginx -c" })
    .option('prefix', { alias: 'p', type: 'string', describe: "nginx's prefix, as nginx -p" })
    .option('explain-log', {
      type: 'string',
      describe: "explain the failed connects in nginx's error.log (default: the error_log files of its configuration)",
    })
    .option('json', { type: 'boolean', describe: 'print one JSON document instead of text' })
    .example('$0 doctor /run/app/app.sock', "can nginx's user reach this socket?")
    .example('$0 doctor /run/app/app.sock --as 101 --groups 2000', "as nginx's uid in a sidecar container, in the pod's fsGroup")
    .example('$0 doctor --nginx', "every unix socket nginx is configured with, as nginx's user")
    .example(
      '$0 doctor --explain-log /var/log/nginx/error.log',
      'why those 502s happened, and whether they still would',
    ) as unknown as Argv<DoctorArgs>;
}

export async function handler(argv: ArgumentsCamelCase<DoctorArgs>): Promise<void> {
  // Loaded here, not at the top: every other command (run above all) would pay for loading the doctor.
  const [{ diagnose }, { formatReport }] = await Promise.all([import('../doctor/doctor.js'), import('../doctor/format.js')]);
  let sockets = [...(argv.sockets ?? []), ...(argv.socket === undefined ? [] : ([] as string[]).concat(argv.socket))].map(String);
  let status: number;
  try {
    // With nothing named, the socket run would hold (SOCKVISOR_SOCKET), unless nginx says which.
    if (sockets.length === 0 && !argv.nginx && argv.explainLog === undefined)
      sockets = socketsFromEnv().map((value) => socketPathOf(value));
    const report = await diagnose({
      sockets,
      as: argv.as,
      groups: argv.groups?.map(String),
      nginx: argv.nginx ?? false,
      nginxOptions: { conf: argv.conf, prefix: argv.prefix },
      explainLog: argv.explainLog,
      cwd: process.cwd(),
    });
    process.stdout.write(argv.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    status = report.ok ? ExitCode.ok : 1;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (argv.json)
      process.stdout.write(`${JSON.stringify({ ok: false, error: { exitCode: error.exitCode, message: error.message } }, null, 2)}\n`);
    process.stderr.write(`sockvisor doctor: ${error.message}\n`);
    status = error.exitCode;
  }
  process.exitCode = status;
}
