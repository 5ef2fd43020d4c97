// Binding the listening unix socket so that its path is born with no permissions at all; giving it
// its owner, mode or ACL is TypeScript's part (socket/create.ts), by the same planned steps the
// healer uses for repairs (socket/repair-plan.ts), through the O_PATH descriptor handed back here.
//
// The path's mode at bind() is the socket inode's mode masked by the umask (af_unix.c:
// `S_IFSOCK | (SOCK_INODE(sock)->i_mode & ~current_umask())`). Changing the umask is process-wide
// and would race libuv's thread pool, so instead the socket inode is fchmod()ed to 0 *before*
// bind(): the path is born with mode 0000 (only root, who may connect anyway, gets in). Its final
// owner and mode go through an O_PATH descriptor of the path itself, because fchmod()/fchown() on
// the socket fd after bind() change only the sockfs inode, not the path (docs/design-notes.md,
// 'Creating a socket with its final permissions'). Binding the final path directly (no rename)
// keeps getsockname() and `ss -x` truthful.
//
// listen() comes here, before the permissions: a mode-0000 file lets nobody but root connect, so
// listening early lets in nobody the final permissions would not, and a root probe meanwhile finds
// a live socket (not a stale one another sockvisor could take for its own to replace).
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

#include "arguments.h"
#include "errors.h"
#include "exports.h"
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
  if (!HasArgs(info, {Arg::kObject}, "createUnixSocket({ path, backlog, dirFd?, name? })")) return env.Undefined();
  Napi::Object spec = info[0].As<Napi::Object>();
  std::string path = spec.Get("path").As<Napi::String>().Utf8Value();
  int backlog = spec.Get("backlog").As<Napi::Number>().Int32Value();
  // Without a folder descriptor the path is opened by name (callers that checked nothing, tests).
  bool inFolder = spec.Has("dirFd") && spec.Get("dirFd").IsNumber();
  int dirFd = inFolder ? spec.Get("dirFd").As<Napi::Number>().Int32Value() : AT_FDCWD;
  std::string name = inFolder && spec.Get("name").IsString() ? spec.Get("name").As<Napi::String>().Utf8Value() : path;

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
  } else if (bound = true, listen(fd, backlog) != 0) {
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
  result.Set("fd", Napi::Number::New(env, fd));
  // The descriptor the path was verified through: the caller's, it names this very inode for its
  // permissions and for repairs later (held_file.h), whatever is done to the path meanwhile.
  result.Set("pathFd", Napi::Number::New(env, opath));
  result.Set("dev", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_dev)));
  result.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  return result;
}

}  // namespace sockvisor
