// The one typed door to the C++ addon. Nothing else loads the .node file.
// Every function takes resolved plain values (numbers, absolute paths): policy stays in TypeScript.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A system error as the addon raises it: shaped like Node's own. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** One entry of a POSIX access ACL as the kernel stores it (<linux/posix_acl_xattr.h>). */
export interface NativeAclEntry {
  /** ACL_USER_OBJ 0x01, ACL_USER 0x02, ACL_GROUP_OBJ 0x04, ACL_GROUP 0x08, ACL_MASK 0x10, ACL_OTHER 0x20 */
  tag: number;
  /** rwx bits */
  perm: number;
  /** uid or gid for ACL_USER / ACL_GROUP; 0xffffffff otherwise */
  id: number;
}

export interface UnixSocketRequest {
  path: string;
  backlog: number;
  /**
   * The folder of path as a descriptor (openFolder), with name the last component of path: the
   * file bound is found and checked there, not through path again (native/socket.cc).
   */
  dirFd?: number;
  name?: string;
}

/** A folder makeFolder made: its descriptor (O_PATH, close-on-exec, the caller's), device and inode. */
export interface MadeFolder {
  fd: number;
  dev: bigint;
  ino: bigint;
}

export interface ConnectAsRequest {
  path: string;
  uid: number;
  gid: number;
  /** supplementary groups, as initgroups(3) would set them */
  groups: number[];
}

export interface CreatedUnixSocket {
  fd: number;
  /** device and inode of the path as created: removal later checks it is still ours */
  dev: bigint;
  ino: bigint;
  /** an O_PATH, close-on-exec descriptor of the file's inode, owned by the caller: its permissions go through it */
  pathFd: number;
}

/** One change to a held file's inode (changeHeldFile): chmod, chown, or its access ACL set or removed. */
export type HeldFileChange = { mode: number } | { uid: number; gid: number } | { acl: NativeAclEntry[] | null };

export interface TcpSocketRequest {
  family: 4 | 6;
  /** a numeric address (inet_pton), never a host name */
  address: string;
  /** 0 lets the kernel choose */
  port: number;
  backlog: number;
}

export interface CreatedTcpSocket {
  fd: number;
  /** the port bound: the kernel's choice when 0 was asked for */
  port: number;
}

export interface SpawnRequest {
  /** absolute path of the executable (no PATH search in native code) */
  file: string;
  argv: string[];
  envp: string[];
  /** child fd i becomes fds[i] */
  fds: number[];
  uid?: number;
  gid?: number;
  /** supplementary groups; undefined keeps the current ones */
  groups?: number[];
  cwd?: string;
  /** append LISTEN_PID=<child's own pid> to the environment, written after fork */
  listenPid: boolean;
  /** signal the child gets when sockvisor dies (PR_SET_PDEATHSIG); 0 for none */
  pdeathsig: number;
  /** put the child in a process group of its own (default true) */
  processGroup?: boolean;
}

export interface SpawnedProcess {
  pid: number;
  /** owned by the caller until handed to ChildWatch */
  pidfd: number;
}

/** How a reaped child ended (a ChildWatch's onExit, reapOrphan): native/child_exit.h. */
export interface NativeExit {
  code: number | null;
  /** signal number */
  signal: number | null;
  coreDumped?: boolean;
  /** errno of waitid when a ChildWatch could not reap (reapOrphan throws instead) */
  error?: number;
}

export interface ChildWatch {
  /** null when sent, else the errno code ('ESRCH' once the child has exited) */
  signal(signo: number): string | null;
  /** kill(-pid, signo): the child's whole process group */
  signalGroup(signo: number): string | null;
}

/** One datagram on a NOTIFY_SOCKET, with its sender as the kernel reported it (SCM_CREDENTIALS). */
export interface NotifyDatagram {
  text: string;
  /** -1 when the kernel attached no credentials */
  pid: number;
  uid: number;
  gid: number;
  /** the sender's process group at receipt; -1 when it had already exited */
  pgid: number;
  /** longer than 4096 bytes: cut */
  truncated: boolean;
}

export interface NotifyReceiver {
  /** stops receiving and closes the socket; idempotent */
  close(): void;
}

export interface FolderWatchHandle {
  /** stops watching and closes the inotify descriptor; idempotent */
  close(): void;
  /** stops reading events: the kernel queues them (merging repeats) until resume() */
  pause(): void;
  /** reads events again, those queued meanwhile first */
  resume(): void;
}

export interface GuardChannel {
  /** sockvisor's end: kept for the whole run; its closing (however sockvisor ends) is the guard's signal */
  ours: number;
  /** the guard's end: its fd 0, closed in sockvisor once the guard is started */
  guards: number;
}

export interface GuardAnswer {
  /** the child's process group is pinned and is killed as a whole if sockvisor dies */
  pinned: boolean;
  /** why it is not pinned (errno code of setpgid or fork), else null */
  error: string | null;
}

/** Who is at the other end of a connected unix socket, as recorded at connect() (SO_PEERCRED). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** A listening unix socket's accept queue (unixListenQueue): what `ss -xl` shows as Recv-Q and Send-Q. */
export interface ListenQueue {
  /** connections waiting to be accepted */
  queued: number;
  /** the backlog it listens with (the kernel accepts one connection more than that before refusing) */
  backlog: number;
}

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

interface Binding {
  createUnixSocket(request: UnixSocketRequest): CreatedUnixSocket;
  createTcpSocket(request: TcpSocketRequest): CreatedTcpSocket;
  probeUnixSocket(path: string): string | null;
  closeFd(fd: number): void;
  linkHeldFile(pathFd: number, dirFd: number, name: string): void;
  openFolder(dirFd: number | null, name: string): number;
  readLinkAt(dirFd: number, name: string): string;
  makeFolder(dirFd: number, name: string, mode: number): MadeFolder;
  removeIfSame(dirFd: number, name: string, dev: bigint, ino: bigint, folder: boolean): boolean;
  changeHeldFile(pathFd: number, change: HeldFileChange): void;
  spawn(request: SpawnRequest): SpawnedProcess;
  ChildWatch: new (pidfd: number, pid: number, onExit: (exit: NativeExit) => void) => ChildWatch;
  NotifyReceiver: new (address: string, onMessage: (datagram: NotifyDatagram) => void) => NotifyReceiver;
  FolderWatch: new (path: string, onChange: (names: (string | null)[]) => void) => FolderWatchHandle;
  sendNotify(address: string, text: string): string | null;
  lookupUser(nameOrUid: string | number): UserEntry | null;
  lookupGroup(nameOrGid: string | number): GroupEntry | null;
  groupList(userName: string, primaryGid: number): number[];
  usersWithPrimaryGroup(gid: number): string[];
  readAcl(path: string): NativeAclEntry[] | null;
  connectAs(request: ConnectAsRequest): string | null;
  isWatchedChild(pid: number): boolean;
  setChildSubreaper(): void;
  reapOrphan(pid: number): NativeExit | null;
  signalOrphan(pid: number, signo: number): string | null;
  openGuardChannel(): GuardChannel;
  guardProtect(channel: number, pid: number, pidfd: number, timeoutMs: number): GuardAnswer;
  guardRelease(channel: number, pid: number): string | null;
  duplicateFd(fd: number): number;
  unixListenQueue(fd: number): ListenQueue;
  peerCredentials(fd: number): PeerCredentials;
  exitImmediately(status: number): never;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where the addon and sockvisor-guard are looked for, in node-gyp-build's order: the local builds,
 * then the prebuilt binaries shipped in the package (the guard next to them: scripts/prebuild-guard.mjs).
 */
const BINARY_FOLDERS = ['build/Release', 'build/Debug', `prebuilds/${process.platform}-${process.arch}`].map((folder) =>
  join(packageRoot, folder),
);

/**
 * Loads the addon the way node-gyp-build resolves it: a local build (build/Release, build/Debug:
 * a developer's `npm run build`, or the fallback build at install) first, then the prebuilt binary
 * shipped in the package (prebuilds/linux-x64/, N-API, any Node >= 20). The install script
 * (`node-gyp-build`) builds only when no prebuilt binary fits.
 */
function loadBinding(): Binding {
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => Binding;
  try {
    return load(packageRoot);
  } catch (error) {
    throw new Error(
      `sockvisor's native addon could not be loaded (${(error as Error).message.split('\n')[0]}); looked in:\n  ${BINARY_FOLDERS.join('\n  ')}\n` +
        `Build it with 'npm run build' in ${packageRoot} (needs g++, make and python3).`,
      { cause: error },
    );
  }
}

const binding = loadBinding();

/** The sockvisor-guard executable built next to the addon (native/guard.cc); null when missing. */
export function guardExecutable(): string | null {
  return BINARY_FOLDERS.map((folder) => join(folder, 'sockvisor-guard')).find((candidate) => existsSync(candidate)) ?? null;
}

/** Binds a unix socket at exactly request.path, born mode 0000 and checked so, and listens; see native/socket.cc. */
export const createUnixSocket = (request: UnixSocketRequest): CreatedUnixSocket => binding.createUnixSocket(request);
/** socket + SO_REUSEADDR (+ IPV6_V6ONLY) + bind + listen on a numeric address; see native/tcp.cc. */
export const createTcpSocket = (request: TcpSocketRequest): CreatedTcpSocket => binding.createTcpSocket(request);
/** Connects without blocking: null when a listener answers, else the errno code (ECONNREFUSED: stale). */
export const probeUnixSocket = (path: string): string | null => binding.probeUnixSocket(path);
/**
 * Gives the inode of an O_PATH descriptor the name `name` in the folder dirFd (linkat through
 * /proc/self/fd); EEXIST when the name is taken, ENOENT once the inode has no name left; see native/held_file.cc.
 */
export const linkHeldFile = (pathFd: number, dirFd: number, name: string): void => binding.linkHeldFile(pathFd, dirFd, name);
/**
 * openat(dirFd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC): a folder's descriptor, never
 * through a symlink at name (ENOTDIR); null dirFd for an absolute name. See native/dir_ops.h.
 */
export const openFolder = (dirFd: number | null, name: string): number => binding.openFolder(dirFd, name);
/** readlinkat(dirFd, name): a symlink's target; EINVAL when name is not a symlink. */
export const readLinkAt = (dirFd: number, name: string): string => binding.readLinkAt(dirFd, name);
/**
 * mkdirat(dirFd, name, 0), the new folder opened without following and checked to be the one just
 * made (a directory of ours, mode 0000), then given mode through its descriptor; EEXIST when the
 * name holds something else by then. See native/dir_ops.h.
 */
export const makeFolder = (dirFd: number, name: string, mode: number): MadeFolder => binding.makeFolder(dirFd, name, mode);
/**
 * Unlinks name in the folder dirFd (rmdir with folder true) only if it is still that socket (or
 * folder): fstatat then unlinkat, never following; false when missing or another file.
 */
export const removeIfSame = (dirFd: number, name: string, id: { dev: bigint; ino: bigint }, folder: boolean): boolean =>
  binding.removeIfSame(dirFd, name, id.dev, id.ino, folder);
/** chmod, chown, or set/remove the access ACL of the inode an O_PATH descriptor holds, never by name. */
export const changeHeldFile = (pathFd: number, change: HeldFileChange): void => binding.changeHeldFile(pathFd, change);
/** Closes a descriptor the addon handed out. */
export const closeFd = (fd: number): void => binding.closeFd(fd);
/** fork + exec with an exact fd layout; exec failures throw a NativeError (syscall names the step). */
export const spawn = (request: SpawnRequest): SpawnedProcess => binding.spawn(request);
/** Watches a spawned child through its pidfd (taking ownership of it) and reaps it on exit. */
export const watchChild = (child: SpawnedProcess, onExit: (exit: NativeExit) => void): ChildWatch =>
  new binding.ChildWatch(child.pidfd, child.pid, onExit);
/** Binds a NOTIFY_SOCKET ('@name' abstract, or a path) and delivers each datagram on the event loop. */
export const openNotifyReceiver = (address: string, onMessage: (datagram: NotifyDatagram) => void): NotifyReceiver =>
  new binding.NotifyReceiver(address, onMessage);
/**
 * Watches a folder with inotify for entries created, removed, renamed or given new attributes, and
 * for its own removal or renaming (never for writes); onChange(names) once per wakeup, null naming
 * the folder itself (or lost events). See native/folder_watch.cc.
 */
export const watchFolder = (path: string, onChange: (names: (string | null)[]) => void): FolderWatchHandle =>
  new binding.FolderWatch(path, onChange);
/** One sd_notify(3) datagram to address; null when sent, else the errno code. */
export const sendNotify = (address: string, text: string): string | null => binding.sendNotify(address, text);
/** getpwnam_r / getpwuid_r. */
export const lookupUser = (nameOrUid: string | number): UserEntry | null => binding.lookupUser(nameOrUid);
/** getgrnam_r / getgrgid_r. */
export const lookupGroup = (nameOrGid: string | number): GroupEntry | null => binding.lookupGroup(nameOrGid);
/** getgrouplist: the supplementary groups a login of userName would get. */
export const groupList = (userName: string, primaryGid: number): number[] => binding.groupList(userName, primaryGid);
/** The names of the users whose primary group is gid (getpwent: the passwd database as far as NSS lists it). */
export const usersWithPrimaryGroup = (gid: number): string[] => binding.usersWithPrimaryGroup(gid);
/** The access ACL of path (following symlinks): null when it has none beyond its mode bits; EOPNOTSUPP: no ACL support. */
export const readAcl = (path: string): NativeAclEntry[] | null => binding.readAcl(path);
/** As root: connect() to path in a child with another user's credentials; null when it connects, else the errno code. */
export const connectAs = (request: ConnectAsRequest): string | null => binding.connectAs(request);
/** Whether pid is a child of sockvisor's own, watched by a ChildWatch (never reaped as an orphan). */
export const isWatchedChild = (pid: number): boolean => binding.isWatchedChild(pid);
/** prctl(PR_SET_CHILD_SUBREAPER): orphans below sockvisor become its children (native/reaper.cc). */
export const setChildSubreaper = (): void => binding.setChildSubreaper();
/** Reaps an exited orphan by pid (null while it runs); refuses sockvisor's own watched children. */
export const reapOrphan = (pid: number): NativeExit | null => binding.reapOrphan(pid);
/** Signals an unreaped orphan by pid: null, or the errno code (ECHILD: not an orphan of ours). */
export const signalOrphan = (pid: number, signo: number): string | null => binding.signalOrphan(pid, signo);
/** The SOCK_SEQPACKET socketpair to sockvisor-guard (native/guard_channel.cc). */
export const openGuardChannel = (): GuardChannel => binding.openGuardChannel();
/** Hands a child's pidfd to the guard and waits for its answer; throws when the guard does not answer. */
export const guardProtect = (channel: number, pid: number, pidfd: number, timeoutMs: number): GuardAnswer =>
  binding.guardProtect(channel, pid, pidfd, timeoutMs);
/** Tells the guard a child and its group are done with: null, or the errno code of send. */
export const guardRelease = (channel: number, pid: number): string | null => binding.guardRelease(channel, pid);
/** A close-on-exec copy of fd, owned by the caller. */
export const duplicateFd = (fd: number): number => binding.duplicateFd(fd);
/** The accept queue of the listening unix socket fd, through sock_diag by its inode (native/queue.cc). */
export const unixListenQueue = (fd: number): ListenQueue => binding.unixListenQueue(fd);
/** The pid, uid and gid of a connected unix socket's peer (getsockopt SO_PEERCRED; native/peer_credentials.cc). */
export const peerCredentials = (fd: number): PeerCredentials => binding.peerCredentials(fd);
/** _exit(status): ends the process without waiting for libuv's thread pool (native/exit_immediately.cc). */
export const exitImmediately = (status: number): never => binding.exitImmediately(status);
