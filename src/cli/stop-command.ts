// `sockvisor stop SOCKET`: asks the running sockvisor to stop (as SIGTERM would) and waits until it has exited.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { ExitCode, UsageError } from '../errors.js';
import { oneSocket } from './reload-command.js';

interface StopArgs {
  socket?: string;
}

export const command = 'stop [socket]';
export const describe = 'stop the running sockvisor (its child first) and wait until it has exited';

export function builder(yargs: Argv): Argv<StopArgs> {
  return yargs.usage('$0 stop SOCKET').positional('socket', {
    type: 'string',
    describe: 'the socket path given to run (default: SOCKVISOR_SOCKET)',
  }) as unknown as Argv<StopArgs>;
}

export async function handler(argv: ArgumentsCamelCase<StopArgs>): Promise<void> {
  // Loaded here, not at the top: every other command (run above all) would pay for loading it.
  const { ask, ControlError, failureStatus, targetOf } = await import('../control/client.js');
  try {
    const target = targetOf(oneSocket(argv.socket, 'stop'));
    // Answered at once; the connection closes when the sockvisor process has exited.
    const answer = await ask(target, 'stop', { untilClosed: true });
    if (!answer.ok) {
      process.stderr.write(`sockvisor stop: ${answer.error}\n`);
      process.exitCode = failureStatus(answer);
      return;
    }
    const pid = 'pid' in answer ? answer.pid : 0;
    process.stdout.write(`stopped the sockvisor on ${target.socket} (pid ${pid})\n`);
    process.exitCode = ExitCode.ok;
  } catch (error) {
    if (!(error instanceof ControlError || error instanceof UsageError)) throw error;
    process.stderr.write(`sockvisor stop: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
}
