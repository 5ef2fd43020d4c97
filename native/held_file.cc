// The held socket file, changed through its O_PATH descriptor (see held_file.h).
#include "held_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "acl.h"
#include "arguments.h"
#include "errors.h"
#include "exports.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

namespace sockvisor {

std::string ProcPath(int fd) {
  char proc[64];
  std::snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  return proc;
}

int ChmodOpath(int opath, mode_t mode) {
  if (syscall(SYS_fchmodat2, opath, "", mode, AT_EMPTY_PATH) == 0) return 0;
  if (errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) return -1;
  return chmod(ProcPath(opath).c_str(), mode);
}

Napi::Value LinkHeldFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber, Arg::kNumber, Arg::kString}, "linkHeldFile(pathFd, dirFd, name)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int dirFd = info[1].As<Napi::Number>().Int32Value();
  std::string name = info[2].As<Napi::String>().Utf8Value();
  // linkat(fd, "", AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; following the /proc magic link
  // of the descriptor is allowed to its owner (linkat(2), "AT_SYMLINK_FOLLOW"). The new name goes
  // into the folder descriptor, never through a path someone could turn into a symlink meanwhile.
  if (linkat(AT_FDCWD, ProcPath(fd).c_str(), dirFd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    ThrowSystemError(env, errno, "link", name);
  }
  return env.Undefined();
}

Napi::Value ChangeHeldFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "changeHeldFile(pathFd, { mode } | { uid, gid } | { acl })";
  if (!HasArgs(info, {Arg::kNumber, Arg::kObject}, usage)) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Object change = info[1].As<Napi::Object>();
  if (change.Get("mode").IsNumber()) {
    mode_t mode = change.Get("mode").As<Napi::Number>().Uint32Value() & 0777;
    if (ChmodOpath(fd, mode) != 0) ThrowSystemError(env, errno, "chmod", ProcPath(fd));
  } else if (change.Get("uid").IsNumber() && change.Get("gid").IsNumber()) {
    int uid = change.Get("uid").As<Napi::Number>().Int32Value();
    int gid = change.Get("gid").As<Napi::Number>().Int32Value();
    if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) ThrowSystemError(env, errno, "fchownat", ProcPath(fd));
  } else if (change.Has("acl") && change.Get("acl").IsNull()) {
    if (RemoveAccessAcl(fd) != 0 && errno != ENODATA) ThrowSystemError(env, errno, "removexattr", ProcPath(fd));
  } else if (change.Has("acl")) {
    std::vector<AclEntry> acl;
    if (!AclFromJs(change.Get("acl"), &acl)) {
      ThrowTypeError(env, usage);
      return env.Undefined();
    }
    if (SetAccessAcl(fd, acl) != 0) ThrowSystemError(env, errno, "setxattr", ProcPath(fd));
  } else {
    ThrowTypeError(env, usage);
  }
  return env.Undefined();
}

}  // namespace sockvisor
