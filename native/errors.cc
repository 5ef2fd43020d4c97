#include "errors.h"

#include <uv.h>

#include <cstring>

namespace sockvisor {

const char* ErrnoName(int err) {
  // glibc names every errno (ENOEXEC too, which libuv does not know); libuv's name is the fallback.
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : uv_err_name(-err);
}

void ThrowSystemError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  const char* code = ErrnoName(err);
  std::string message = std::string(code) + ": " + std::strerror(err) + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  error.ThrowAsJavaScriptException();
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace sockvisor
