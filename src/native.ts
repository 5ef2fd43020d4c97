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

export interface UnixSocketRequest {
  path: string;
  /** -1 keeps the creating process's uid */
  uid: number;
  /** -1 keeps the creating process's gid */
  gid: number;
  mode: number;
  backlog: number;
}

export interface CreatedUnixSocket {
  fd: number;
  /** device and inode of the path as created: removal later checks it is still ours */
  dev: bigint;
  ino: bigint;
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

export interface NativeExit {
  code: number | null;
  /** signal number */
  signal: number | null;
  coreDumped?: boolean;
  /** errno of waitid when reaping failed */
  error?: number;
}

export interface ChildWatch {
  /** null when sent, else the errno code ('ESRCH' once the child has exited) */
  signal(signo: number): string | null;
  /** kill(-pid, signo): the child's whole process group */
  signalGroup(signo: number): string | null;
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

/** How an orphan that was reaped ended. */
export interface OrphanExit {
  code: number | null;
  signal: number | null;
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
  probeUnixSocket(path: string): string | null;
  closeFd(fd: number): void;
  spawn(request: SpawnRequest): SpawnedProcess;
  ChildWatch: new (pidfd: number, pid: number, onExit: (exit: NativeExit) => void) => ChildWatch;
  lookupUser(nameOrUid: string | number): UserEntry | null;
  lookupGroup(nameOrGid: string | number): GroupEntry | null;
  groupList(userName: string, primaryGid: number): number[];
  isWatchedChild(pid: number): boolean;
  setChildSubreaper(): void;
  reapOrphan(pid: number): OrphanExit | null;
  signalOrphan(pid: number, signo: number): string | null;
  openGuardChannel(): GuardChannel;
  guardProtect(channel: number, pid: number, pidfd: number, timeoutMs: number): GuardAnswer;
  guardRelease(channel: number, pid: number): string | null;
  duplicateFd(fd: number): number;
  exitImmediately(status: number): never;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function loadBinding(): Binding {
  const require = createRequire(import.meta.url);
  const candidates = [
    join(packageRoot, 'build', 'Release', 'sockvisor.node'),
    join(packageRoot, 'build', 'Debug', 'sockvisor.node'),
  ];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return require(candidate) as Binding;
    } catch (error) {
      failures.push(`${candidate}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `sockvisor's native addon could not be loaded; tried:\n  ${failures.join('\n  ')}\n` +
      `Build it with 'npm run build' (needs g++, make and python3).`,
  );
}

const binding = loadBinding();

/** The sockvisor-guard executable built next to the addon (native/guard.cc); null when missing. */
export function guardExecutable(): string | null {
  for (const build of ['Release', 'Debug']) {
    const candidate = join(packageRoot, 'build', build, 'sockvisor-guard');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Creates, owns, chmods and listens a unix socket at exactly request.path; see native/socket.cc. */
export const createUnixSocket = (request: UnixSocketRequest): CreatedUnixSocket => binding.createUnixSocket(request);
/** Connects without blocking: null when a listener answers, else the errno code (ECONNREFUSED: stale). */
export const probeUnixSocket = (path: string): string | null => binding.probeUnixSocket(path);
/** Closes a descriptor the addon handed out. */
export const closeFd = (fd: number): void => binding.closeFd(fd);
/** fork + exec with an exact fd layout; exec failures throw a NativeError (syscall names the step). */
export const spawn = (request: SpawnRequest): SpawnedProcess => binding.spawn(request);
/** Watches a spawned child through its pidfd (taking ownership of it) and reaps it on exit. */
export const watchChild = (child: SpawnedProcess, onExit: (exit: NativeExit) => void): ChildWatch =>
  new binding.ChildWatch(child.pidfd, child.pid, onExit);
/** getpwnam_r / getpwuid_r. */
export const lookupUser = (nameOrUid: string | number): UserEntry | null => binding.lookupUser(nameOrUid);
/** getgrnam_r / getgrgid_r. */
export const lookupGroup = (nameOrGid: string | number): GroupEntry | null => binding.lookupGroup(nameOrGid);
/** getgrouplist: the supplementary groups a login of userName would get. */
export const groupList = (userName: string, primaryGid: number): number[] => binding.groupList(userName, primaryGid);
/** Whether pid is a child of sockvisor's own, watched by a ChildWatch (never reaped as an orphan). */
export const isWatchedChild = (pid: number): boolean => binding.isWatchedChild(pid);
/** prctl(PR_SET_CHILD_SUBREAPER): orphans below sockvisor become its children (native/reaper.cc). */
export const setChildSubreaper = (): void => binding.setChildSubreaper();
/** Reaps an exited orphan by pid (null while it runs); refuses sockvisor's own watched children. */
export const reapOrphan = (pid: number): OrphanExit | null => binding.reapOrphan(pid);
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
/** _exit(status): ends the process without waiting for libuv's thread pool (native/exit.cc). */
export const exitImmediately = (status: number): never => binding.exitImmediately(status);
