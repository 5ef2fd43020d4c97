// The control socket's protocol: one JSON object per line each way. A request names a command; the
// answer says ok or gives one sentence (and a code a client maps to its exit status).
import type { StatsSnapshot } from './stats.js';
import type { SupervisorStatus } from '../supervisor/child-supervisor.js';

export type ControlCommand = 'status' | 'reload' | 'stop';
export const CONTROL_COMMANDS: readonly ControlCommand[] = ['status', 'reload', 'stop'];

export interface ControlRequest {
  command: ControlCommand;
}

/** EACCES: the peer is neither root nor sockvisor's user; EBADREQ: not a request; ESTOPPING; EABANDONED: a handover failed. */
export type ControlErrorCode = 'EACCES' | 'EBADREQ' | 'ESTOPPING' | 'EABANDONED' | 'EFAILED';

export interface SocketStatus {
  name: string;
  kind: 'unix' | 'tcp';
  /** the path, or the TCP address and port */
  address: string;
  /** of the held socket's inode (unix) */
  owner: string | null;
  group: string | null;
  uid: number | null;
  gid: number | null;
  mode: string | null;
  inode: number | null;
  /** the accept queue now (unix): what `ss -xl` shows as Recv-Q and Send-Q */
  queued: number | null;
  backlog: number;
}

export interface StatusAnswer {
  ok: true;
  pid: number;
  version: string;
  uptimeMs: number;
  supervisor: SupervisorStatus;
  stats: StatsSnapshot;
  sockets: SocketStatus[];
}

export type ControlAnswer =
  | StatusAnswer
  | { ok: true; command: 'reload'; result: 'done'; message: string; generation: number | null; durationMs: number | null }
  | { ok: true; command: 'stop'; pid: number }
  | { ok: false; code: ControlErrorCode; error: string };

/** A line from a client as a request, or the sentence saying why it is none. */
export function parseRequest(line: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'the request is not JSON: send one object per line, e.g. {"command":"status"}';
  }
  const command = (value as { command?: unknown } | null)?.command;
  if (typeof command !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(command)) {
    return `the request names no known command: use one of ${CONTROL_COMMANDS.join(', ')}`;
  }
  return { command: command as ControlCommand };
}
