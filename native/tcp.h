#pragma once
#include <napi.h>

namespace sockvisor {
// createTcpSocket({ family: 4 | 6, address: numeric string, port, backlog }) -> { fd, port }
//   SO_REUSEADDR, IPV6_V6ONLY for family 6; port is the bound one (the kernel's pick for port 0).
Napi::Value CreateTcpSocket(const Napi::CallbackInfo& info);
}  // namespace sockvisor
