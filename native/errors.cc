#include "errors.h"

#include <uv.h>

#include <cstring>

namespace sockvisor {
namespace {

// message "CODE: strerror, syscall 'detail'" with code, errno and syscall set, as Node's errors have.
Napi::Error MakeSystemError(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  const char* code = ErrnoName(err);
  std::string message = std::string(code) + ": " + std::strerror(err) + ", " + syscall;
  if (!detail.empty()) message += " '" + detail + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace

const char* ErrnoName(int err) {
  // glibc names every errno (ENOEXEC too, which libuv does not know); libuv's name is the fallback.
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : uv_err_name(-err);
}

void ThrowSystemError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  Napi::Error error = MakeSystemError(env, err, syscall, path);
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  error.ThrowAsJavaScriptException();
}

void ThrowNetworkError(Napi::Env env, int err, const char* syscall, const std::string& address, int port) {
  std::string where = address.find(':') != std::string::npos ? "[" + address + "]:" : address + ":";
  Napi::Error error = MakeSystemError(env, err, syscall, where + std::to_string(port));
  error.Set("address", Napi::String::New(env, address));
  error.Set("port", Napi::Number::New(env, port));
  error.ThrowAsJavaScriptException();
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace sockvisor
