// Creating the sockets sockvisor holds, and removing exactly those on stop.
import { fstatSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { RunError, ExitCode } from '../errors.js';
import { changeHeldFile, closeFd, createTcpSocket, createUnixSocket, removeIfSame } from '../native.js';
import type { CreatedUnixSocket, NativeError } from '../native.js';
import { readNativeAclOrNull, toNativeAcl } from './acl.js';
import { anchorPath } from './anchor.js';
import { openFolderPath, removeIfSameFile, removeMadeDirs, type FolderLinks, type MadeDir } from './folder.js';
import { fileMode, type SocketPermissions } from './permissions.js';
import { noAclSupport, type SocketPreflight } from './preflight.js';
import { permissionSteps, type FileAttributes } from './repair-plan.js';
import { formatTcpAddress, type TcpSocketSpec, type UnixSocketSpec } from './spec.js';

/** A listening unix socket sockvisor created and holds for the whole run. */
export interface HeldUnixSocket {
  kind: 'unix';
  spec: UnixSocketSpec;
  fd: number;
  dev: bigint;
  ino: bigint;
  /**
   * An O_PATH descriptor of the socket file's inode, kept from its creation: its mode and owner are
   * repaired, and its name linked back, through it (socket/healer.ts), never through the path.
   */
  pathFd: number;
  permissions: SocketPermissions;
  backlog: number;
  /** folders sockvisor made for it, removed again on stop when empty and still the ones made */
  createdDirs: MadeDir[];
  /** the symlinks on the way to its folder at start: the only ones followed later (socket/folder.ts) */
  links: FolderLinks;
}

/** A listening TCP socket sockvisor holds for the whole run. */
export interface HeldTcpSocket {
  kind: 'tcp';
  spec: TcpSocketSpec;
  fd: number;
  /** the port listened on: the kernel's choice when the spec said 0 */
  port: number;
  backlog: number;
}

export type HeldSocket = HeldUnixSocket | HeldTcpSocket;

/** The kernel's cap on listen() backlogs: sockvisor's default backlog. */
export function defaultBacklog(): number {
  try {
    const value = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
    if (Number.isFinite(value) && value > 0) return value;
  } catch {
    // not Linux /proc: fall through
  }
  return 4096;
}

/** Listens on a TCP address; errors become sentences with the address and the fix (exit 2). */
function createTcpListener(spec: TcpSocketSpec, backlog: number): HeldTcpSocket {
  try {
    const created = createTcpSocket({ family: spec.family, address: spec.address, port: spec.port, backlog });
    return { kind: 'tcp', spec, fd: created.fd, port: created.port, backlog };
  } catch (error) {
    const e = error as NativeError;
    throw new RunError(`Cannot listen on ${formatTcpAddress(spec)} (${e.syscall}: ${e.code}): ${tcpHintFor(e.code)}`, ExitCode.usage, {
      cause: error,
    });
  }
}

function tcpHintFor(code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return "another program listens there (see 'ss -ltnp'): stop it, or choose another port.";
    case 'EACCES':
      return 'ports below 1024 need root (or CAP_NET_BIND_SERVICE): choose a port above 1023, or start sockvisor as root.';
    case 'EADDRNOTAVAIL':
      return "this machine has no such address (see 'ip addr'): listen on one of its addresses, or on :PORT for all.";
    default:
      return 'check the address and port.';
  }
}

/** Creates one socket as preflight found it; a stale socket is replaced only if still the same file. */
export function createSocket(pre: SocketPreflight, permissions: SocketPermissions, backlog: number): HeldSocket {
  if (pre.spec.kind === 'tcp') return createTcpListener(pre.spec, backlog);
  const spec = pre.spec;
  const { path } = spec;
  // The symlinks on the way now are the user's layout; any that appears later is never followed.
  const links: FolderLinks = new Map();
  const made: MadeDir[] = [];
  let folder: number;
  try {
    folder = openFolderPath(dirname(path), links, { record: true, made });
  } catch (error) {
    removeMadeDirs(made, links);
    const e = error as NativeError;
    const what = `Cannot make or open the folder '${dirname(path)}' of the socket '${path}' (${e.syscall ?? 'open'}: ${e.code})`;
    throw new RunError(`${what}: ${folderHintFor(e.code)}`, ExitCode.usage, { cause: error });
  }
  try {
    if (pre.stale && !removeIfSame(folder, basename(path), pre.stale, false)) {
      throw new RunError(`The stale socket '${path}' changed while sockvisor started: check who else uses this path.`, ExitCode.usage);
    }
    // The anchor of a sockvisor that was killed: a second name of its stale socket.
    if (pre.staleAnchor && !removeIfSame(folder, basename(anchorPath(path)), pre.staleAnchor, false)) {
      const anchor = anchorPath(path);
      throw new RunError(`The stale socket '${anchor}' changed while sockvisor started: check who else uses this path.`, ExitCode.usage);
    }
    return createUnixListener(spec, permissions, backlog, { folder, links, createdDirs: made });
  } finally {
    closeFd(folder);
  }
}

function folderHintFor(code: string): string {
  switch (code) {
    case 'EEXIST':
      return 'someone put something else at its name while sockvisor made it; check who else can write the folder above.';
    case 'ENOTDIR':
      return 'a part of the path is not a folder; choose another path.';
    default:
      return 'check the path and its folders.';
  }
}

/** Where a new unix socket goes: its folder's descriptor, the symlinks followed to it at start, and the folders just made for it. */
export interface SocketFolderRef {
  folder: number;
  links: FolderLinks;
  /** removed again if the socket cannot be made */
  createdDirs?: MadeDir[];
}

/** The attributes a socket file with these permissions has: with an ACL, the mode's group bits are its mask. */
export function wantedAttributes(p: SocketPermissions): FileAttributes {
  return { mode: fileMode(p), uid: p.uid, gid: p.gid, acl: p.acl ? toNativeAcl(p.acl) : null };
}

/**
 * Binds a listening unix socket at `path`, whose folder `folder` is (a descriptor), born mode 0000
 * (native/socket.cc), then gives it `wanted` by the same steps the healer repairs with
 * (permissionSteps): no moment lets in anyone the wanted attributes do not. The file is measured
 * first rather than assumed: a set-group-ID folder gives it the folder's group, a default ACL an
 * ACL (with every permission masked off). On failure the half-made socket is removed, if its name
 * still holds it, and its descriptors closed; the NativeError is thrown, naming `path`.
 */
export function bindUnixSocket(path: string, folder: number, wanted: FileAttributes, backlog: number): CreatedUnixSocket {
  const name = basename(path);
  const created = createUnixSocket({ path, backlog, dirFd: folder, name });
  try {
    const st = fstatSync(created.pathFd);
    const acl = readNativeAclOrNull(`/proc/self/fd/${created.pathFd}`);
    const born: FileAttributes = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, acl };
    for (const step of permissionSteps(born, wanted)) changeHeldFile(created.pathFd, step);
    return created;
  } catch (error) {
    try {
      removeIfSame(folder, name, created, false);
    } catch {
      // Left as it is (nobody listens on it once closed): the first error is the one to tell.
    }
    closeQuietly(created.pathFd);
    closeQuietly(created.fd);
    // The addon named the file by its descriptor (/proc/self/fd/N), gone now: name it by its path.
    if ((error as NativeError).syscall !== undefined) (error as NativeError).path = path;
    throw error;
  }
}

/**
 * Binds a new unix socket at a free path in the folder given as a descriptor, born 0000 and then
 * given its permissions (bindUnixSocket); the folders just made for it are removed again if it
 * fails. Errors become sentences (exit 2).
 */
export function createUnixListener(
  spec: UnixSocketSpec,
  permissions: SocketPermissions,
  backlog: number,
  where: SocketFolderRef,
): HeldUnixSocket {
  const { path } = spec;
  const createdDirs = where.createdDirs ?? [];
  try {
    const created = bindUnixSocket(path, where.folder, wantedAttributes(permissions), backlog);
    return {
      kind: 'unix',
      spec,
      fd: created.fd,
      dev: created.dev,
      ino: created.ino,
      pathFd: created.pathFd,
      permissions,
      backlog,
      createdDirs: [...createdDirs],
      links: where.links,
    };
  } catch (error) {
    // bindUnixSocket removed its own half-made socket; the folders are ours to remove.
    removeMadeDirs(createdDirs, where.links);
    const e = error as NativeError;
    if (e.code === 'EOPNOTSUPP' && e.syscall === 'setxattr') {
      throw new RunError(noAclSupport(path, dirname(path)).message, ExitCode.usage, { cause: error });
    }
    const hint = e.syscall === 'open' && e.code === 'ENOENT' ? SWAPPED_AT_BIND : hintFor(e.code);
    throw new RunError(`Cannot create the socket '${path}' (${e.syscall}: ${e.code}): ${hint}`, ExitCode.usage, {
      cause: error,
    });
  }
}

// bind() succeeded but the file is not in the folder checked: a folder of the path was swapped meanwhile (native/socket.cc).
const SWAPPED_AT_BIND =
  'a folder of the path was replaced while the socket was bound, so it landed elsewhere: sockvisor changed nothing there, ' +
  'but a socket file with mode 0000 (nobody can connect) may be left wherever the path led; ' +
  'check who else can write the folders on the path.';

function hintFor(code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'something else created this path at the same moment; choose another path.';
    case 'EPERM':
      return 'only root can give a file to another user or to a group it is not in.';
    case 'EACCES':
      return 'the folder is not writable; choose a folder you own.';
    default:
      return 'check the path and its folder.';
  }
}

/** Creates all sockets, undoing the ones already made if a later one fails. */
export function createSockets(pres: SocketPreflight[], permissions: SocketPermissions, backlog: number): HeldSocket[] {
  const held: HeldSocket[] = [];
  try {
    for (const pre of pres) held.push(createSocket(pre, permissions, backlog));
  } catch (error) {
    for (const socket of held) removeSocket(socket);
    throw error;
  }
  return held;
}

/**
 * Closes the socket and removes its file and folders, only if the path is still the file we
 * created; false when the file was left (a TCP socket has no file: true once closed).
 */
export function removeSocket(socket: HeldSocket): boolean {
  if (socket.kind === 'tcp') {
    closeQuietly(socket.fd);
    return true;
  }
  const removed = removeIfSameFile(socket.spec.path, socket, socket.links);
  closeHeldSocket(socket);
  removeMadeDirs(socket.createdDirs, socket.links);
  return removed;
}

/** Closes a unix socket's descriptors and removes nothing: for a socket another one took the place of. */
export function closeHeldSocket(socket: HeldUnixSocket): void {
  closeQuietly(socket.fd);
  closeQuietly(socket.pathFd);
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    // already closed
  }
}
