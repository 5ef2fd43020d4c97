#pragma once
#include <napi.h>

namespace sockvisor {
// exitImmediately(status): _exit(2), skipping atexit handlers and static destructors.
Napi::Value ExitImmediately(const Napi::CallbackInfo& info);
}  // namespace sockvisor
