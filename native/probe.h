#pragma once
#include <napi.h>

namespace sockvisor {
// connectAs({ path, uid, gid, groups }) -> null when connect() as that user succeeds, else the errno
// code ('EACCES', 'ECONNREFUSED', ...). Forks a child that takes the credentials and connects, so
// the kernel itself (with every LSM) gives the verdict. Needs root (CAP_SETUID/CAP_SETGID).
Napi::Value ConnectAs(const Napi::CallbackInfo& info);
}  // namespace sockvisor
