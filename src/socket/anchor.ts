// The anchor: a second name (a hard link) of each held socket file, `.NAME.sockvisor` next to it.
//
// connect() finds a unix socket by the inode its path leads to, so any name of the inode reaches the
// same listening socket. While one name is left, the kernel lets the inode be linked again; once
// its link count falls to 0 it never does (vfs_link: ENOENT). So when someone removes the socket
// file, the anchor keeps the inode linkable and sockvisor links the very same socket back at the
// path: same inode, same permissions, the same child serving it, nothing queued lost.
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { lstatOrNull, probeListening } from './probe.js';

/** The anchor's name for a socket path: /run/app/app.sock -> /run/app/.app.sock.sockvisor. */
export function anchorPath(socketPath: string): string {
  return join(dirname(socketPath), `.${basename(socketPath)}.sockvisor`);
}

/**
 * Checks the anchor's name before anything is created: free, or a stale socket (the anchor of a
 * sockvisor that was killed) to replace, returned. Anything else is refused with a sentence (exit 2):
 * sockvisor removes nothing it did not create.
 */
export function preflightAnchor(socketPath: string): { dev: bigint; ino: bigint } | null {
  const anchor = anchorPath(socketPath);
  const st = lstatOrNull(anchor);
  if (!st) return null;
  const why = `sockvisor keeps a second name of the socket '${socketPath}' there, so that it can put the socket back if someone removes it`;
  if (!st.isSocket()) {
    throw new UsageError(
      `'${anchor}' exists and is not a socket; ${why}, and never removes what it did not create: move it away, or choose another --socket path.`,
    );
  }
  const probe = probeListening(anchor);
  if (probe.state === 'live') {
    throw new UsageError(
      `A server is listening on '${anchor}', the second name of a socket another sockvisor holds (${why}): stop that sockvisor first, or choose another --socket path.`,
    );
  }
  if (probe.state === 'unknown') {
    throw new UsageError(
      `Cannot tell whether the socket '${anchor}' is still in use (connect failed with ${probe.code}); ${why}: remove it yourself if it is stale, or choose another --socket path.`,
    );
  }
  return { dev: st.dev, ino: st.ino };
}
