// `sockvisor reload SOCKET`: a handover asked on the control socket, waited for: exit 0 once the new
// child is ready and the old one drains, 1 with the reason when the handover is abandoned.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { ExitCode, UsageError } from '../errors.js';
import { socketPathOf, socketsFromEnv } from './socket-env.js';

interface ReloadArgs {
  socket?: string;
}

export const command = 'reload [socket]';
// A restart is a handover too: with the socket held, a new child next to the old one drops nothing.
export const aliases = ['restart'];
export const describe = 'hand over to a new child and wait: exit 0 once it serves, 1 with the reason when the handover is abandoned';

export function builder(yargs: Argv): Argv<ReloadArgs> {
  return yargs
    .usage('$0 reload SOCKET')
    .positional('socket', { type: 'string', describe: 'the socket path given to run (default: SOCKVISOR_SOCKET)' })
    .example('$0 reload /run/app/app.sock', 'e.g. as ExecReload= in the unit') as unknown as Argv<ReloadArgs>;
}

/** The one socket a command acts on: the argument, else SOCKVISOR_SOCKET. */
export function oneSocket(value: string | undefined, command: string): string {
  const values = value !== undefined ? [value] : socketsFromEnv();
  if (values.length !== 1)
    throw new UsageError(`sockvisor ${command} needs the socket path given to run, e.g. sockvisor ${command} /run/app/app.sock`);
  return socketPathOf(values[0]!, command);
}

export async function handler(argv: ArgumentsCamelCase<ReloadArgs>): Promise<void> {
  // Loaded here, not at the top: every other command (run above all) would pay for loading it.
  const { ask, ControlError, failureStatus, targetOf } = await import('../control/client.js');
  try {
    const target = targetOf(oneSocket(argv.socket, 'reload'));
    const answer = await ask(target, 'reload');
    if (!answer.ok) {
      process.stderr.write(`sockvisor reload: ${answer.error}\n`);
      process.exitCode = failureStatus(answer);
      return;
    }
    const took = 'durationMs' in answer && answer.durationMs !== null ? ` (${answer.durationMs} ms)` : '';
    process.stdout.write(`reloaded ${target.socket}: ${'message' in answer ? answer.message : 'done'}${took}\n`);
    process.exitCode = ExitCode.ok;
  } catch (error) {
    if (!(error instanceof ControlError || error instanceof UsageError)) throw error;
    process.stderr.write(`sockvisor reload: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
}
