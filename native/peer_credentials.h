#pragma once
#include <napi.h>

namespace sockvisor {
// peerCredentials(fd) -> { pid, uid, gid }: who is at the other end of a connected unix socket, as
// the kernel recorded it at connect() (getsockopt SO_PEERCRED). Throws a system error otherwise.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);
}  // namespace sockvisor
