// `sockvisor status [SOCKET...] [--json]`: what each running sockvisor is doing, asked on its control socket.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { Target } from '../control/client.js';
import type { StatusAnswer } from '../control/protocol.js';
import { ExitCode } from '../errors.js';
import { socketPathOf } from './socket-env.js';

interface StatusArgs {
  sockets?: string[];
  json: boolean;
}

export const command = 'status [sockets..]';
export const describe = 'show what the running sockvisor(s) are doing: children, restarts, handovers, sockets and their queues';

export function builder(yargs: Argv): Argv<StatusArgs> {
  return yargs
    .usage('$0 status [SOCKET...] [--json]')
    .positional('sockets', { type: 'string', array: true, describe: 'the socket paths given to run (default: every running sockvisor)' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per sockvisor, in an array' })
    .example('$0 status /run/app/app.sock', '') as unknown as Argv<StatusArgs>;
}

/** The targets named, or every running sockvisor found; a usage error for a TCP address. */
export async function targetsOf(sockets: string[] | undefined, command: string): Promise<Target[]> {
  const { findControlSockets, targetOf } = await import('../control/client.js');
  if (sockets !== undefined && sockets.length > 0) return sockets.map((s) => targetOf(socketPathOf(s, command)));
  return findControlSockets();
}

export async function handler(argv: ArgumentsCamelCase<StatusArgs>): Promise<void> {
  // Loaded here, not at the top: every other command (run above all) would pay for loading it.
  const [{ ask, ControlError, failureStatus }, { formatStatus }] = await Promise.all([
    import('../control/client.js'),
    import('../control/format.js'),
  ]);
  let status: number = ExitCode.ok;
  let targets: Target[];
  try {
    targets = await targetsOf(argv.sockets, 'status');
  } catch (error) {
    process.stderr.write(`sockvisor status: ${(error as Error).message}\n`);
    process.exitCode = (error as { exitCode?: number }).exitCode ?? ExitCode.gaveUp;
    return;
  }
  if (targets.length === 0) {
    process.stderr.write('sockvisor status: no running sockvisor found (no listening *.sockvisor.ctl socket in /proc/net/unix)\n');
    process.exitCode = ExitCode.notRunning;
    return;
  }
  const results: unknown[] = [];
  for (const target of targets) {
    try {
      const answer = await ask(target, 'status');
      if (!answer.ok) {
        status = Math.max(status, failureStatus(answer));
        report(argv.json, results, target, answer.error, failureStatus(answer));
        continue;
      }
      if (argv.json) results.push({ socket: target.socket, control: target.control, ...answer });
      else process.stdout.write(formatStatus(target.socket, answer as StatusAnswer));
    } catch (error) {
      if (!(error instanceof ControlError)) throw error;
      status = Math.max(status, error.exitCode);
      report(argv.json, results, target, error.message, error.exitCode);
    }
  }
  if (argv.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  process.exitCode = status;
}

function report(json: boolean, results: unknown[], target: Target, message: string, exitCode: number): void {
  process.stderr.write(`sockvisor status: ${message}\n`);
  if (json) results.push({ socket: target.socket, control: target.control, ok: false, exitCode, error: message });
}
