// Every function the addon exports, with the JavaScript call it answers: the native layer on one
// page. addon.cc registers each with one line; src/native.ts is the typed door to them. A new
// mechanism declares its exports here and keeps its own header for what other .cc files need.
#pragma once
#include <napi.h>

namespace sockvisor {

// --- socket.cc
// createUnixSocket({ path, backlog, dirFd?, name? }) -> { fd, pathFd, dev, ino }: socket,
// fchmod(0), bind, the bound file opened O_PATH (close-on-exec) and checked to be a socket of the
// effective uid with mode 0000, then listen. With dirFd and name (the folder of path as a
// descriptor, and the last component of path) the file is found there, never through the path
// again (see socket.cc). No owner, mode or ACL is set: the caller gives them through pathFd
// (changeHeldFile, in the steps socket/repair-plan.ts plans). On failure after the check the file
// is removed if its name still holds it; the fds are closed.
Napi::Value CreateUnixSocket(const Napi::CallbackInfo& info);

// --- dir_ops.cc: folders through descriptors, never by name after a check (see dir_ops.cc)
// openFolder(dirFd | null, name) -> fd: openat(dirFd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
// O_CLOEXEC); null dirFd opens an absolute name. A symlink or a file at name gives ENOTDIR.
Napi::Value OpenFolder(const Napi::CallbackInfo& info);

// readLinkAt(dirFd, name) -> string: readlinkat; EINVAL when name is not a symlink.
Napi::Value ReadLinkAt(const Napi::CallbackInfo& info);

// makeFolder(dirFd, name, mode) -> { fd, dev, ino }: mkdirat(dirFd, name, 0), then the new folder
// opened without following (O_PATH | O_NOFOLLOW | O_DIRECTORY), checked to be a directory owned by
// the effective uid with mode 0000 (the one just made: no other folder looks like that), and only
// then given `mode` through that descriptor. Throws EEXIST (syscall "mkdirat") when the name no
// longer holds the folder just made (someone moved it and put something else there): that folder
// is left where it went, and nothing is changed.
Napi::Value MakeFolder(const Napi::CallbackInfo& info);

// removeIfSame(dirFd, name, dev, ino, folder) -> boolean: fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW)
// and, only when it is a socket (folder false) or a directory (folder true) with that device and
// inode, unlinkat(dirFd, name, folder ? AT_REMOVEDIR : 0). false when missing or another file;
// throws other errors (ENOTEMPTY for a folder someone put files in).
Napi::Value RemoveIfSame(const Napi::CallbackInfo& info);

// --- queue.cc
// unixListenQueue(fd) -> { queued, backlog }: the connections waiting in a listening unix socket's
// accept queue, and the backlog it listens with, as the kernel's sock_diag reports them (what
// `ss -xl` shows as Recv-Q and Send-Q). Throws a system error (fstat, socket, sendmsg, recv,
// sock_diag) otherwise; EINVAL when fd is not a listening socket.
Napi::Value UnixListenQueue(const Napi::CallbackInfo& info);

// --- peer_credentials.cc
// peerCredentials(fd) -> { pid, uid, gid }: who is at the other end of a connected unix socket, as
// the kernel recorded it at connect() (getsockopt SO_PEERCRED). Throws a system error otherwise.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);

// --- socket_probe.cc
// probeUnixSocket(path) -> null when something accepts connections there, else the errno code string
Napi::Value ProbeUnixSocket(const Napi::CallbackInfo& info);

// --- tcp.cc
// createTcpSocket({ family: 4 | 6, address: numeric string, port, backlog }) -> { fd, port }
//   SO_REUSEADDR, IPV6_V6ONLY for family 6; port is the bound one (the kernel's pick for port 0).
Napi::Value CreateTcpSocket(const Napi::CallbackInfo& info);

// --- fd.cc
// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info);
// duplicateFd(fd) -> a close-on-exec copy (F_DUPFD_CLOEXEC), so the caller owns its own pidfd.
Napi::Value DuplicateFd(const Napi::CallbackInfo& info);

// --- held_file.cc
// linkHeldFile(pathFd, dirFd, name): gives the held inode the name `name` in the folder dirFd
// again. Throws EEXIST when something is at that name (link never replaces), ENOENT once the inode has no name left anywhere
// (the kernel links no inode whose link count fell to 0), EPERM under fs.protected_hardlinks for a
// caller that neither owns the file nor has CAP_FOWNER.
Napi::Value LinkHeldFile(const Napi::CallbackInfo& info);
// changeHeldFile(pathFd, change): one change to the held inode: { mode } (chmod), { uid, gid }
// (chown), { acl: entries } (set the access ACL, which sets the mode too) or { acl: null } (remove it).
Napi::Value ChangeHeldFile(const Napi::CallbackInfo& info);

// --- acl.cc
// readAcl(path) -> [{ tag, perm, id }] | null when the file has no ACL beyond its mode bits.
// Follows symlinks, as connect() does. EOPNOTSUPP: the file system has no ACL support.
Napi::Value ReadAcl(const Napi::CallbackInfo& info);

// --- folder_watch.cc
// new FolderWatch(path, onChange): watches the folder `path` (following a symlink to it, as
// connect() would) for entries created, removed, renamed or given new attributes (chmod, chown,
// setxattr, link count), and for the folder itself being removed or renamed. onChange(names) is
// called once per wakeup with the entry names read (null for the folder itself, or for events lost
// to a queue overflow: look at everything). Throws ENOENT, ENOTDIR, EACCES, ENOSPC (the user's
// fs.inotify.max_user_watches) or EMFILE (max_user_instances) like Node's errors.
// close(): stops watching and closes the inotify descriptor; idempotent. pause(): stops reading
// events (they wait in the kernel's queue); resume(): reads them again.
Napi::Function DefineFolderWatch(Napi::Env env);

// --- spawn.cc
// spawn({ file, argv, envp, fds, uid, gid, groups, cwd, listenPid, pdeathsig, processGroup })
//   -> { pid, pidfd }; an exec failure throws with the child's errno and the failed step as syscall.
Napi::Value Spawn(const Napi::CallbackInfo& info);

// --- child_watch.cc
// new ChildWatch(pidfd, pid, onExit): a child process known by its pidfd (ownership taken), with
// exit notification on libuv's loop (onExit({ code, signal, coreDumped? }) once it is reaped) and
// signals that cannot hit a recycled pid. signal(signo) -> null, or the errno code ('ESRCH' once
// the child has exited); signalGroup(signo) -> null or the errno code: kill(-pid), only while the
// leader is unreaped ('ESRCH' after: the group id may have been reused).
Napi::Function DefineChildWatch(Napi::Env env);
// isWatchedChild(pid) -> boolean, for the reaper's policy in TypeScript.
Napi::Value IsWatchedChildJs(const Napi::CallbackInfo& info);

// --- reaper.cc
// setChildSubreaper(): prctl(PR_SET_CHILD_SUBREAPER, 1); orphaned descendants become our children.
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info);
// reapOrphan(pid) -> { code, signal, coreDumped? } (as a ChildWatch reports) once reaped, null while
// it runs: waitid(P_PID, WNOHANG). Throws a TypeError for a pid a ChildWatch owns: never reaped here.
Napi::Value ReapOrphan(const Napi::CallbackInfo& info);
// signalOrphan(pid, signo) -> null or the errno code (ECHILD: not an unreaped child of ours).
Napi::Value SignalOrphan(const Napi::CallbackInfo& info);

// --- notify.cc
// new NotifyReceiver(address, onMessage): the receiving end of a NOTIFY_SOCKET (sd_notify(3)
// protocol), a unix datagram socket polled on libuv's loop; address is '@name' (abstract) or a
// path. onMessage({ text, pid, uid, gid, pgid, truncated }) gets each datagram with the sender's
// credentials as the kernel reports them (SO_PASSCRED), and its process group (getpgid) at receipt.
// close(): stops polling and closes the socket; idempotent.
Napi::Function DefineNotifyReceiver(Napi::Env env);
// sendNotify(address, text) -> null, or the errno code: one datagram to a NOTIFY_SOCKET
// ('@name' abstract or a path), as sd_notify(3) sends it.
Napi::Value SendNotify(const Napi::CallbackInfo& info);

// --- users.cc
// lookupUser(name | uid) -> { name, uid, gid, home, shell } | null (through NSS, like id(1))
Napi::Value LookupUser(const Napi::CallbackInfo& info);
// lookupGroup(name | gid) -> { name, gid, members } | null
Napi::Value LookupGroup(const Napi::CallbackInfo& info);
// groupList(userName, primaryGid) -> gids, as initgroups(3) would set them
Napi::Value GroupList(const Napi::CallbackInfo& info);
// usersWithPrimaryGroup(gid) -> names of the users whose passwd entry has this gid (getpwent_r)
Napi::Value UsersWithPrimaryGroup(const Napi::CallbackInfo& info);

// --- connect_as.cc
// connectAs({ path, uid, gid, groups }) -> null when connect() as that user succeeds, else the errno
// code ('EACCES', 'ECONNREFUSED', ...). Forks a child that takes the credentials and connects, so
// the kernel itself (with every LSM) gives the verdict. Needs root (CAP_SETUID/CAP_SETGID).
Napi::Value ConnectAs(const Napi::CallbackInfo& info);

// --- guard_channel.cc
// openGuardChannel() -> { ours, guards }: a close-on-exec SOCK_SEQPACKET socketpair; `guards` is
// handed to sockvisor-guard as its fd 0 and then closed here.
Napi::Value OpenGuardChannel(const Napi::CallbackInfo& info);
// guardProtect(channelFd, pid, pidfd, timeoutMs) -> { pinned, error }: sends the child's pidfd to
// the guard and waits (at most timeoutMs) for its answer; throws when the guard does not answer.
Napi::Value GuardProtect(const Napi::CallbackInfo& info);
// guardRelease(channelFd, pid) -> null or the errno code: the guard forgets the child.
Napi::Value GuardRelease(const Napi::CallbackInfo& info);

// --- exit_immediately.cc
// exitImmediately(status): _exit(2), skipping atexit handlers and static destructors.
Napi::Value ExitImmediately(const Napi::CallbackInfo& info);

}  // namespace sockvisor
