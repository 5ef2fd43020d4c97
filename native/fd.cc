// Descriptors the addon hands to JavaScript: closed, or copied, by number.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "arguments.h"
#include "errors.h"
#include "exports.h"

namespace sockvisor {

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber}, "closeFd(fd)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  // EINTR: the descriptor is closed all the same on Linux (close(2)); retrying could close another.
  if (close(fd) != 0 && errno != EINTR) ThrowSystemError(env, errno, "close");
  return env.Undefined();
}

Napi::Value DuplicateFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber}, "duplicateFd(fd)")) return env.Undefined();
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    ThrowSystemError(env, errno, "fcntl");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

}  // namespace sockvisor
