// The NOTIFY_SOCKET sockvisor gives each child: how it learns that the child is ready (READY=1),
// what it is doing (STATUS=), that it reloads itself (RELOADING=1) or is stopping (STOPPING=1).
//
// The socket is abstract ('@sockvisor/...'): no file to create, own or clean up, and it works
// whatever user the child drops to (uWSGI's --uid sends READY=1 from the unprivileged master).
// An abstract socket has no permission check, so every datagram is checked instead: the kernel
// reports the sender's pid (SO_PASSCRED, which a sender cannot forge without CAP_SYS_ADMIN), and
// only the child itself or a member of its process group is believed. Another local user cannot
// join that group (setpgid(2) works only within the caller's session), so cannot fake readiness.
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openNotifyReceiver, type NotifyDatagram, type NotifyReceiver } from '../native.js';

/** What a child said in one datagram, the fields sockvisor acts on. */
export interface ChildNotification {
  ready: boolean;
  reloading: boolean;
  stopping: boolean;
  status?: string;
  /** every KEY=VALUE line, for the debug log */
  fields: Record<string, string>;
}

/** Parses an sd_notify(3) datagram: newline-separated KEY=VALUE lines; other lines are ignored. */
export function parseNotification(text: string): ChildNotification {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return {
    ready: fields.READY === '1',
    reloading: fields.RELOADING === '1',
    stopping: fields.STOPPING === '1',
    ...(fields.STATUS !== undefined ? { status: fields.STATUS } : {}),
    fields,
  };
}

/** Whether a datagram comes from the child (pid) or a process of its group (pgid = the child's pid). */
export function isFromChild(datagram: Pick<NotifyDatagram, 'pid' | 'pgid'>, childPid: number): boolean {
  return datagram.pid > 0 && (datagram.pid === childPid || datagram.pgid === childPid);
}

export interface NotifyChannelHandlers {
  onNotification(notification: ChildNotification, datagram: NotifyDatagram): void;
  /** a datagram from a process outside the child's group, or cut at 4096 bytes: not acted on */
  onRejected(datagram: NotifyDatagram, reason: 'foreign-sender' | 'truncated'): void;
}

/**
 * n random bytes as hex, read from the kernel's /dev/urandom: node:crypto would add about 5 ms to every
 * start just to be loaded (bench/sections/start-latency.ts). Where /dev/urandom cannot be opened (a
 * chroot without /dev), node:crypto after all.
 */
function randomHex(n: number): string {
  let fd: number;
  try {
    fd = openSync('/dev/urandom', 'r');
  } catch {
    const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    return crypto.randomBytes(n).toString('hex');
  }
  try {
    const bytes = Buffer.alloc(n);
    let got = 0;
    while (got < n) got += readSync(fd, bytes, got, n - got, null);
    return bytes.toString('hex');
  } finally {
    closeSync(fd);
  }
}

/** A child's own NOTIFY_SOCKET: open it before spawning, then tell it the child's pid. */
export class NotifyChannel {
  /** the NOTIFY_SOCKET value for the child's environment */
  readonly address: string;
  readonly #receiver: NotifyReceiver;
  #childPid: number | null = null;

  constructor(handlers: NotifyChannelHandlers, label: string) {
    // Unguessable, so nobody can bind the name first and make the child's messages go elsewhere.
    this.address = `@sockvisor/${process.pid}/${label}/${randomHex(8)}`;
    this.#receiver = openNotifyReceiver(this.address, (datagram) => {
      // Datagrams are delivered on the event loop, so never before the spawn that set the pid returned.
      if (this.#childPid === null || !isFromChild(datagram, this.#childPid)) {
        handlers.onRejected(datagram, 'foreign-sender');
      } else if (datagram.truncated) {
        handlers.onRejected(datagram, 'truncated');
      } else {
        handlers.onNotification(parseNotification(datagram.text), datagram);
      }
    });
  }

  /** The child whose group may speak on this socket. */
  attach(childPid: number): void {
    this.#childPid = childPid;
  }

  close(): void {
    this.#receiver.close();
  }
}
