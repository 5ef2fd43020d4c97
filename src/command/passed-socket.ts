// A held socket as COMMAND gets it. A file of its own so that gunicorn.ts, which command.ts calls,
// need not import command.ts back.
import type { TcpAddress } from '../socket/spec.js';

/** A held socket as the child gets it: its name, its fd there, and what it is bound to. */
export interface PassedSocket {
  name: string;
  fd: number;
  /** a unix socket's path */
  path?: string | undefined;
  /** a TCP socket's address */
  tcp?: TcpAddress | undefined;
}
