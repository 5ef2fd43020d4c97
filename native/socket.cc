// Creating the listening unix socket so that the path is never wider than its final permissions.
//
// The path's mode at bind() is the socket inode's mode masked by the umask (af_unix.c:
// `S_IFSOCK | (SOCK_INODE(sock)->i_mode & ~current_umask())`). Changing the umask is process-wide
// and would race libuv's thread pool, so instead the socket inode is fchmod()ed to 0 *before*
// bind(): the path is born with mode 0000 (only root, who may connect anyway, gets in). It is then
// given its final owner and mode through an O_PATH descriptor of the path itself, because
// fchmod()/fchown() on the socket fd after bind() change only the sockfs inode, not the path
// (docs/design-notes.md, 'Creating a socket with its final permissions'). Binding the final path
// directly (no rename) keeps getsockname() and `ss -x` truthful.
//
// With an access ACL (`--socket-allow`), the ACL takes the place of the chmod: setting it sets the
// mode too (owner bits from ACL_USER_OBJ, group bits from ACL_MASK). It is set in two steps, first
// with every permission cleared, then in full: file systems differ in whether they store the new
// mode or the new ACL first (tmpfs updates the mode before it caches the ACL, so a one-step set on a
// mode-0000 file would, for an instant, let the file's group in through the mask bits). After step
// one the inode has an ACL whose mask grants nothing, so whichever half of step two lands first,
// nobody gets in before the final entries are all there.
//
// The folder: there is no bindat(), and binding "/proc/self/fd/N/name" would make that the socket's
// name for getsockname(), `ss -x` and uWSGI's log. So bind() takes the absolute path, and the
// caller's folder descriptor (dirFd, opened without following symlinks: socket/folder.ts) says
// whether it landed there: the file must be found at dirFd/name, without following, as a socket
// owned by us with mode 0000 (no other file looks like one just bound, before anything else is
// done to it). Every later step (chown, chmod, ACL, the repairs) goes through that file's O_PATH
// descriptor. If someone swapped a folder of the path between the caller's check and bind(), the
// file is not there: nothing is changed, and the socket is closed. Its file, wherever the swap led
// bind(), stays behind: a mode-0000 socket of ours nobody listens on, that nobody but root can
// connect to; it is not removed, since its name leads through a folder someone else controls.
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "acl.h"
#include "arguments.h"
#include "errors.h"
#include "exports.h"
#include "held_file.h"
#include "unix_address.h"

namespace sockvisor {
namespace {

struct Failure {
  int err;
  const char* syscall;
};

}  // namespace

Napi::Value CreateUnixSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kObject}, "createUnixSocket({ path, uid, gid, mode, backlog, acl?, keepPathFd? })")) return env.Undefined();
  Napi::Object spec = info[0].As<Napi::Object>();
  std::string path = spec.Get("path").As<Napi::String>().Utf8Value();
  int uid = spec.Get("uid").As<Napi::Number>().Int32Value();
  int gid = spec.Get("gid").As<Napi::Number>().Int32Value();
  mode_t mode = spec.Get("mode").As<Napi::Number>().Uint32Value() & 0777;
  int backlog = spec.Get("backlog").As<Napi::Number>().Int32Value();
  bool keepPathFd = spec.Has("keepPathFd") && spec.Get("keepPathFd").ToBoolean().Value();
  // Without a folder descriptor the path is opened by name (callers that checked nothing, tests).
  bool inFolder = spec.Has("dirFd") && spec.Get("dirFd").IsNumber();
  int dirFd = inFolder ? spec.Get("dirFd").As<Napi::Number>().Int32Value() : AT_FDCWD;
  std::string name = inFolder && spec.Get("name").IsString() ? spec.Get("name").As<Napi::String>().Utf8Value() : path;
  std::vector<AclEntry> acl;
  if (spec.Has("acl") && !spec.Get("acl").IsUndefined() && !AclFromJs(spec.Get("acl"), &acl)) {
    ThrowTypeError(env, "createUnixSocket: acl must be [{ tag, perm, id }]");
    return env.Undefined();
  }

  sockaddr_un addr;
  if (FillUnixAddress(path, &addr) == 0) {
    ThrowSystemError(env, ENAMETOOLONG, "bind", path);
    return env.Undefined();
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowSystemError(env, errno, "socket", path);
    return env.Undefined();
  }
  Failure failure{0, nullptr};
  bool bound = false;
  int opath = -1;
  struct stat st;

  if (fchmod(fd, 0) != 0) {
    failure = {errno, "fchmod"};
  } else if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    failure = {errno, "bind"};
  } else if ((opath = openat(dirFd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
    // ENOENT: bind() landed elsewhere (a folder was swapped), or the file was moved away at once.
    failure = {errno, "open"};
  } else if (fstat(opath, &st) != 0) {
    failure = {errno, "fstat"};
  } else if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0) {
    // Someone replaced the name between bind() and openat(): it is not ours, leave it alone.
    failure = {EEXIST, "bind"};
  } else if (bound = true, (uid >= 0 || gid >= 0) && fchownat(opath, "", uid, gid, AT_EMPTY_PATH) != 0) {
    failure = {errno, "fchownat"};
  } else if (!acl.empty() && SetAccessAcl(opath, WithoutPermissions(acl)) != 0) {
    failure = {errno, "setxattr"};
  } else if (!acl.empty() && SetAccessAcl(opath, acl) != 0) {
    failure = {errno, "setxattr"};
  } else if (acl.empty() && ChmodOpath(opath, mode) != 0) {
    failure = {errno, "chmod"};
  } else if (listen(fd, backlog) != 0) {
    failure = {errno, "listen"};
  }

  if (failure.syscall != nullptr) {
    // The file we just made and checked, by its name in the checked folder, if still that inode.
    struct stat now;
    bool same = bound && fstatat(dirFd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino;
    if (same) {
      unlinkat(dirFd, name.c_str(), 0);
    }
    if (opath >= 0) close(opath);
    close(fd);
    ThrowSystemError(env, failure.err, failure.syscall, path);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  // The descriptor the path was verified and given its permissions through: kept, it names this
  // very inode for repairs later (held_file.h), whatever is done to the path meanwhile.
  if (keepPathFd) {
    result.Set("pathFd", Napi::Number::New(env, opath));
  } else {
    close(opath);
  }
  result.Set("fd", Napi::Number::New(env, fd));
  // st: the fstat that verified the path; chown, chmod and setxattr leave its device and inode as they are.
  result.Set("dev", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_dev)));
  result.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  return result;
}

}  // namespace sockvisor
