// The CLI's side of the control socket: find the running sockvisors, send one request, read its answer.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { ExitCode, RunError } from '../errors.js';
import { appSocketPath, CONTROL_SUFFIX, controlSocketPath } from './paths.js';
import type { ControlAnswer, ControlCommand } from './protocol.js';

/** A running sockvisor as the CLI addresses it: the socket named, and its control socket. */
export interface Target {
  socket: string;
  control: string;
}

/** The target for a socket path given on the command line (or the control socket's own path). */
export function targetOf(path: string): Target {
  const app = appSocketPath(path);
  if (app !== null) return { socket: app, control: path };
  return { socket: path, control: controlSocketPath(path) };
}

/**
 * The control sockets listening now, from /proc/net/unix (paths ending .sockvisor.ctl, in the
 * listening state): every running sockvisor this machine's network namespace shows.
 */
export function findControlSockets(procNetUnix = '/proc/net/unix'): Target[] {
  const found = new Set<string>();
  for (const line of readFileSync(procNetUnix, 'utf8').split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON: listening.
    const fields = line.trim().split(/\s+/);
    const path = fields[7];
    if (fields.length < 8 || path === undefined || !path.endsWith(CONTROL_SUFFIX) || fields[3] !== '00010000') continue;
    found.add(path);
  }
  return [...found].sort().map(targetOf);
}

/** The exit status and sentence of a failed request. */
export class ControlError extends RunError {}

export interface AskOptions {
  /** how long to wait for the answer */
  timeoutMs?: number;
  /** resolve only once sockvisor closes the connection (stop: it keeps it open until it exits) */
  untilClosed?: boolean;
}

/** Sends one request and resolves with the first answer line; connection problems become ControlErrors. */
export function ask(target: Target, command: ControlCommand, options: AskOptions = {}): Promise<ControlAnswer> {
  const { timeoutMs, untilClosed = false } = options;
  return new Promise((resolve, reject) => {
    const socket = connect(target.control);
    if (timeoutMs !== undefined) {
      socket.setTimeout(timeoutMs, () => {
        if (!answered)
          reject(new ControlError(`the sockvisor on ${target.socket} did not answer within ${timeoutMs / 1000} s`, ExitCode.gaveUp));
        answered = true;
        socket.destroy();
      });
    }
    let buffered = '';
    let answered = false;
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ command })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0 || answered) return;
      answered = true;
      let answer: ControlAnswer;
      try {
        answer = JSON.parse(buffered.slice(0, nl)) as ControlAnswer;
      } catch {
        socket.end();
        reject(new ControlError(`the sockvisor on ${target.socket} answered something that is not JSON`, ExitCode.gaveUp));
        return;
      }
      if (untilClosed && answer.ok) {
        socket.setTimeout(0);
        socket.on('close', () => resolve(answer));
        socket.resume();
        return;
      }
      socket.end();
      resolve(answer);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) reject(connectError(target, error));
      answered = true;
    });
    socket.on('close', () => {
      if (!answered) reject(new ControlError(`the sockvisor on ${target.socket} closed the connection without answering`, ExitCode.gaveUp));
      answered = true;
    });
  });
}

function connectError(target: Target, error: NodeJS.ErrnoException): ControlError {
  const { socket, control } = target;
  switch (error.code) {
    case 'ENOENT':
      return new ControlError(
        `no sockvisor runs on ${socket}: there is no control socket ${control} (is the path the one given to run -s?)`,
        ExitCode.notRunning,
      );
    case 'ECONNREFUSED':
      return new ControlError(
        `no sockvisor runs on ${socket}: its control socket ${control} is stale ` +
          '(the sockvisor that made it is gone; the next start replaces it)',
        ExitCode.notRunning,
      );
    case 'EACCES':
    case 'EPERM':
      return new ControlError(
        `permission denied on ${control}: only root and the user sockvisor runs as may ask it (try sudo)`,
        ExitCode.permissionDenied,
      );
    case 'ENOTSOCK':
    case 'ENOTDIR':
      return new ControlError(`${control} is not a control socket: no sockvisor runs on ${socket}`, ExitCode.notRunning);
    default:
      return new ControlError(`cannot reach the sockvisor on ${socket} through ${control}: ${error.message}`, ExitCode.gaveUp);
  }
}

/** The exit status for an answer that says no. */
export function failureStatus(answer: Extract<ControlAnswer, { ok: false }>): number {
  return answer.code === 'EACCES' ? ExitCode.permissionDenied : ExitCode.gaveUp;
}
