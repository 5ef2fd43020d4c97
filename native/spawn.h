#pragma once
#include <napi.h>

namespace sockvisor {
// spawn({ file, argv, envp, fds, uid, gid, groups, cwd, listenPid, pdeathsig, processGroup })
//   -> { pid, pidfd }; an exec failure throws with the child's errno and the failed step as syscall.
Napi::Value Spawn(const Napi::CallbackInfo& info);
}  // namespace sockvisor
