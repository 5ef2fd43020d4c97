// `sockvisor stop SOCKET`: asks the running sockvisor to stop (as SIGTERM would) and waits until it has exited.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { ask, ControlError, failureStatus, targetOf } from '../control/client.js';
import { ExitCode, UsageError } from '../errors.js';
import { oneSocket } from './reload-command.js';

interface StopArgs {
  socket?: string;
}

export const command = 'stop [socket]';
export const describe = 'stop the running sockvisor (its child first) and wait until it has exited';

export function builder(yargs: Argv): Argv<StopArgs> {
  return yargs
    .usage('$0 stop SOCKET')
    .positional('socket', {
      type: 'string',
      describe: 'the socket path given to run (default: SOCKVISOR_SOCKET)',
    }) as unknown as Argv<StopArgs>;
}

/** Whether pid still runs (a zombie, exited but not yet reaped by its parent, does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function handler(argv: ArgumentsCamelCase<StopArgs>): Promise<void> {
  try {
    const target = targetOf(oneSocket(argv.socket, 'stop'));
    const answer = await ask(target, 'stop');
    if (!answer.ok) {
      process.stderr.write(`sockvisor stop: ${answer.error}\n`);
      process.exitCode = failureStatus(answer);
      return;
    }
    const pid = 'pid' in answer ? answer.pid : 0;
    // Its children stop first (the stop timeout, then SIGKILL): sockvisor bounds the wait itself.
    while (pid > 0 && running(pid)) await sleep(50);
    process.stdout.write(`stopped the sockvisor on ${target.socket} (pid ${pid})\n`);
    process.exitCode = ExitCode.ok;
  } catch (error) {
    if (!(error instanceof ControlError || error instanceof UsageError)) throw error;
    process.stderr.write(`sockvisor stop: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
}
