// Leaving without waiting for libuv's thread pool. At exit libuv joins its pool threads (a static
// destructor), so a thread blocked in write() to a stderr pipe nobody reads would keep the
// process alive forever. When the last log records cannot be written within the deadline,
// sockvisor ends with _exit(2): everything else (children stopped, socket removed) is done by then.
#include <unistd.h>

#include "arguments.h"
#include "exports.h"

namespace sockvisor {

Napi::Value ExitImmediately(const Napi::CallbackInfo& info) {
  if (!HasArgs(info, {Arg::kNumber}, "exitImmediately(status)")) return info.Env().Undefined();
  _exit(info[0].As<Napi::Number>().Int32Value());
}

}  // namespace sockvisor
