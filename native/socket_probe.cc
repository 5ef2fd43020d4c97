// Whether something accepts connections on a unix socket path, asked the kernel's way: a
// connect() as sockvisor itself. ECONNREFUSED: a stale socket file nobody listens on.
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "arguments.h"
#include "errors.h"
#include "exports.h"
#include "unix_address.h"

namespace sockvisor {

Napi::Value ProbeUnixSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kString}, "probeUnixSocket(path)")) return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr;
  if (FillUnixAddress(path, &addr) == 0) return Napi::String::New(env, "ENAMETOOLONG");
  // Non-blocking, so a listener whose backlog is full answers EAGAIN instead of hanging us.
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ThrowSystemError(env, errno, "socket", path);
    return env.Undefined();
  }
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = rc == 0 ? 0 : errno;
  close(fd);
  if (err == 0) return env.Null();
  return Napi::String::New(env, ErrnoName(err));
}

}  // namespace sockvisor
