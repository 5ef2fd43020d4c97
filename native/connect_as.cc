// A real connect() to a unix socket as another user, for `doctor` run as root: what nginx's workers
// would meet, decided by the kernel instead of by our reading of the permission bits.
//
// The credentials must change in a child: setuid() in Node's own process would be for good (and
// for every thread). After fork only async-signal-safe calls are made (the parent prepares the
// address and the group list); the child reports {syscall, errno} over the close-on-exec pipe of
// fork_report.h and _exit()s, never returning into Node's code.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "arguments.h"
#include "credentials.h"
#include "errors.h"
#include "exports.h"
#include "fork_report.h"
#include "unix_address.h"

namespace sockvisor {
namespace {

constexpr const char* kUsage = "connectAs({ path, uid, gid, groups })";

// Runs in the child: system calls only. Its report is always written: the connect verdict too.
[[noreturn]] void ConnectInChild(int reportFd, const sockaddr_un& addr, const Credentials& credentials) {
  if (const char* failed = TakeCredentials(credentials)) ExitWithReport(reportFd, failed, errno);
  // Non-blocking, like nginx: a listener with a full backlog answers EAGAIN instead of hanging us.
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ExitWithReport(reportFd, "socket", errno);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  ExitWithReport(reportFd, "connect", rc == 0 ? 0 : errno);
}

}  // namespace

Napi::Value ConnectAs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kObject}, kUsage)) return env.Undefined();
  Napi::Object o = info[0].As<Napi::Object>();
  if (!HasFields(o, {{"path", Arg::kString}, {"uid", Arg::kNumber}, {"gid", Arg::kNumber}, {"groups", Arg::kArray}}, kUsage)) {
    return env.Undefined();
  }
  std::string path = o.Get("path").As<Napi::String>().Utf8Value();
  Credentials credentials = ReadCredentials(o);

  sockaddr_un addr;
  if (FillUnixAddress(path, &addr) == 0) return Napi::String::New(env, "ENAMETOOLONG");

  // Signals stay blocked in the child (it only connects and exits).
  ChildReport report;
  Forked forked = ForkWithReport([&](int reportFd) { ConnectInChild(reportFd, addr, credentials); }, &report);
  if (forked.pid < 0) {
    ThrowSystemError(env, forked.err, forked.syscall);
    return env.Undefined();
  }
  // It has written its report or died, so this returns at once.
  ReapChild(forked.pid);
  if (forked.got != static_cast<ssize_t>(sizeof(report))) {
    ThrowSystemError(env, EPIPE, "fork", path);
    return env.Undefined();
  }
  if (strcmp(report.syscall, "connect") != 0) {
    // Taking the credentials failed: not a verdict about the socket (e.g. doctor is not root).
    ThrowSystemError(env, report.err, report.syscall, path);
    return env.Undefined();
  }
  if (report.err == 0) return env.Null();
  return Napi::String::New(env, ErrnoName(report.err));
}

}  // namespace sockvisor
