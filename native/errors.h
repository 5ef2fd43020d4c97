// Errors raised to JavaScript look like Node's own system errors: message, code, errno, syscall, path.
#pragma once
#include <napi.h>
#include <string>

namespace sockvisor {

// The symbolic name of a positive errno: "ENOENT", "ENOEXEC".
const char* ErrnoName(int err);

// Throws (as a pending JS exception) an Error for `err` (a positive errno) from `syscall` on `path`.
void ThrowSystemError(Napi::Env env, int err, const char* syscall, const std::string& path = "");

// The same for a network address, with `address` and `port` set as on Node's net errors.
void ThrowNetworkError(Napi::Env env, int err, const char* syscall, const std::string& address, int port);

// Throws a TypeError for a malformed argument: these are bugs in native.ts, not user input.
void ThrowTypeError(Napi::Env env, const std::string& message);

}  // namespace sockvisor
