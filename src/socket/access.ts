// Who may connect() to a unix socket path: write permission on the socket file and search (x) on
// every parent directory; read is neither needed nor enough; root always connects (FACTS.md).
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Identity } from './identity.js';

export interface FileOwnership {
  uid: number;
  gid: number;
  mode: number;
}

export type AccessVerdict =
  | { ok: true }
  | { ok: false; reason: 'socket'; ownership: FileOwnership }
  | { ok: false; reason: 'directory'; directory: string; ownership: FileOwnership };

/** The permission class (owner, group, other) that applies to who on a file, as the kernel picks it. */
export function permissionBits(who: Identity, file: FileOwnership): number {
  if (who.uid === file.uid) return (file.mode >> 6) & 7;
  if (who.gid === file.gid || who.groups.includes(file.gid)) return (file.mode >> 3) & 7;
  return file.mode & 7;
}

/** Whether who could connect to a socket with this ownership, checking each existing parent folder. */
export function checkConnectAccess(who: Identity, socketPath: string, socket: FileOwnership): AccessVerdict {
  if (who.uid === 0) return { ok: true };
  for (let dir = dirname(socketPath); ; dir = dirname(dir)) {
    let ownership: FileOwnership | null = null;
    try {
      const st = statSync(dir);
      ownership = { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
    } catch {
      // not created yet: sockvisor will make it 0755, searchable by all
    }
    if (ownership && (permissionBits(who, ownership) & 1) === 0) return { ok: false, reason: 'directory', directory: dir, ownership };
    if (dir === '/') break;
  }
  if ((permissionBits(who, socket) & 2) === 0) return { ok: false, reason: 'socket', ownership: socket };
  return { ok: true };
}
