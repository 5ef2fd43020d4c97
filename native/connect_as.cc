// A real connect() to a unix socket as another user, for `doctor` run as root: what nginx's workers
// would meet, decided by the kernel instead of by our reading of the permission bits.
//
// The credentials must change in a child: setuid() in Node's own process would be for good (and
// for every thread). After fork only async-signal-safe calls are made (the parent prepares the
// address and the group list); the child reports {step, errno} over the close-on-exec pipe of
// fork_report.h and _exit()s, never returning into Node's code.
#include "probe.h"

#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "fork_report.h"
#include "unix_address.h"

namespace sockvisor {
namespace {

enum Step : int { kSetgroups, kSetgid, kSetuid, kSocket, kConnect };
const char* const kStepNames[] = {"setgroups", "setgid", "setuid", "socket", "connect"};

struct Report {
  int step;
  int err;
};

[[noreturn]] void Finish(int fd, Step step, int err) {
  Report report{step, err};
  ssize_t ignored = write(fd, &report, sizeof(report));
  (void)ignored;
  _exit(0);
}

// Runs in the child: system calls only.
[[noreturn]] void ConnectInChild(int reportFd, const sockaddr_un& addr, uid_t uid, gid_t gid,
                                 const std::vector<gid_t>& groups) {
  if (setgroups(groups.size(), groups.data()) != 0) Finish(reportFd, kSetgroups, errno);
  if (setgid(gid) != 0) Finish(reportFd, kSetgid, errno);
  if (setuid(uid) != 0) Finish(reportFd, kSetuid, errno);
  // Non-blocking, like nginx: a listener with a full backlog answers EAGAIN instead of hanging us.
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) Finish(reportFd, kSocket, errno);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  Finish(reportFd, kConnect, rc == 0 ? 0 : errno);
}

}  // namespace

Napi::Value ConnectAs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowTypeError(env, "connectAs expects { path, uid, gid, groups }");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.Get("path").IsString() || !o.Get("uid").IsNumber() || !o.Get("gid").IsNumber() || !o.Get("groups").IsArray()) {
    ThrowTypeError(env, "connectAs expects { path, uid, gid, groups }");
    return env.Undefined();
  }
  std::string path = o.Get("path").As<Napi::String>().Utf8Value();
  uid_t uid = o.Get("uid").As<Napi::Number>().Uint32Value();
  gid_t gid = o.Get("gid").As<Napi::Number>().Uint32Value();
  std::vector<gid_t> groups;
  Napi::Array array = o.Get("groups").As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) groups.push_back(array.Get(i).As<Napi::Number>().Uint32Value());

  sockaddr_un addr;
  if (FillUnixAddress(path, &addr) == 0) return Napi::String::New(env, "ENAMETOOLONG");

  // Signals stay blocked in the child (it only connects and exits).
  Report result{-1, 0};
  Forked forked = ForkWithReport([&](int reportFd) { ConnectInChild(reportFd, addr, uid, gid, groups); }, &result, sizeof(result));
  if (forked.pid < 0) {
    ThrowSystemError(env, forked.err, forked.syscall);
    return env.Undefined();
  }
  // It has written its report or died, so this returns at once.
  ReapChild(forked.pid);
  if (forked.got != static_cast<ssize_t>(sizeof(result))) {
    ThrowSystemError(env, EPIPE, "fork", path);
    return env.Undefined();
  }
  if (result.step < 0 || result.step > kConnect) {
    ThrowSystemError(env, EINVAL, "fork", path);
    return env.Undefined();
  }
  if (result.step != kConnect) {
    // Taking the credentials failed: not a verdict about the socket (e.g. doctor is not root).
    ThrowSystemError(env, result.err, kStepNames[result.step], path);
    return env.Undefined();
  }
  if (result.err == 0) return env.Null();
  return Napi::String::New(env, ErrnoName(result.err));
}

}  // namespace sockvisor
