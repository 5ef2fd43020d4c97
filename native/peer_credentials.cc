// The credentials of a unix socket's peer. Node has no API for SO_PEERCRED; the control socket
// checks them on every connection (src/control/server.ts), on top of the file's own mode 0600.
#include <napi.h>

#include <errno.h>
#include <sys/socket.h>

#include "arguments.h"
#include "errors.h"
#include "exports.h"

namespace sockvisor {

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber}, "peerCredentials(fd)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ThrowSystemError(env, errno, "getsockopt");
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

}  // namespace sockvisor
