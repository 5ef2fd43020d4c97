// User and group resolution through NSS (getpwnam_r & co.), done before fork: NSS may load
// modules and take locks, which the child of a threaded process must never do.
#include "users.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errors.h"

namespace sockvisor {
namespace {

constexpr size_t kBufferStart = 16384;
constexpr size_t kBufferMax = 1 << 22;

}  // namespace

Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<char> buffer(kBufferStart);
  passwd pw;
  passwd* found = nullptr;
  int rc;
  for (;;) {
    if (info[0].IsNumber()) {
      rc = getpwuid_r(info[0].As<Napi::Number>().Uint32Value(), &pw, buffer.data(), buffer.size(), &found);
    } else {
      rc = getpwnam_r(info[0].As<Napi::String>().Utf8Value().c_str(), &pw, buffer.data(), buffer.size(), &found);
    }
    if (rc != ERANGE || buffer.size() >= kBufferMax) break;
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0 && rc != ENOENT && rc != ESRCH) {
    ThrowSystemError(env, rc, "getpwnam_r");
    return env.Undefined();
  }
  if (found == nullptr) return env.Null();
  Napi::Object user = Napi::Object::New(env);
  user.Set("name", pw.pw_name);
  user.Set("uid", Napi::Number::New(env, pw.pw_uid));
  user.Set("gid", Napi::Number::New(env, pw.pw_gid));
  user.Set("home", pw.pw_dir ? pw.pw_dir : "");
  user.Set("shell", pw.pw_shell ? pw.pw_shell : "");
  return user;
}

Napi::Value LookupGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<char> buffer(kBufferStart);
  group gr;
  group* found = nullptr;
  int rc;
  for (;;) {
    if (info[0].IsNumber()) {
      rc = getgrgid_r(info[0].As<Napi::Number>().Uint32Value(), &gr, buffer.data(), buffer.size(), &found);
    } else {
      rc = getgrnam_r(info[0].As<Napi::String>().Utf8Value().c_str(), &gr, buffer.data(), buffer.size(), &found);
    }
    if (rc != ERANGE || buffer.size() >= kBufferMax) break;
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0 && rc != ENOENT && rc != ESRCH) {
    ThrowSystemError(env, rc, "getgrnam_r");
    return env.Undefined();
  }
  if (found == nullptr) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("name", gr.gr_name);
  result.Set("gid", Napi::Number::New(env, gr.gr_gid));
  Napi::Array members = Napi::Array::New(env);
  for (uint32_t i = 0; gr.gr_mem != nullptr && gr.gr_mem[i] != nullptr; i++) members.Set(i, gr.gr_mem[i]);
  result.Set("members", members);
  return result;
}

Napi::Value GroupList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  gid_t primary = info[1].As<Napi::Number>().Uint32Value();
  int count = 64;
  std::vector<gid_t> groups(count);
  while (getgrouplist(name.c_str(), primary, groups.data(), &count) < 0) {
    if (count <= static_cast<int>(groups.size())) count = static_cast<int>(groups.size()) * 2;
    groups.resize(count);
  }
  Napi::Array result = Napi::Array::New(env, count);
  for (int i = 0; i < count; i++) result.Set(i, Napi::Number::New(env, groups[i]));
  return result;
}

// The names of every user whose primary group is gid: a group's members are its gr_mem list and
// these, and getgrgid_r lists only the first. getpwent walks the whole passwd database (NSS
// sources that refuse enumeration, some LDAP setups, list only their local part).
Napi::Value UsersWithPrimaryGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gid_t gid = info[0].As<Napi::Number>().Uint32Value();
  Napi::Array names = Napi::Array::New(env);
  std::vector<char> buffer(kBufferStart);
  passwd pw;
  passwd* found = nullptr;
  uint32_t count = 0;
  int failed = 0;
  setpwent();
  for (;;) {
    int rc = getpwent_r(&pw, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < kBufferMax) {
      // The same entry again with room for it: getpwent_r does not advance on ERANGE.
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc == ENOENT || found == nullptr) break;
    if (rc != 0) {
      failed = rc;
      break;
    }
    if (pw.pw_gid == gid) names.Set(count++, pw.pw_name);
  }
  endpwent();
  if (failed != 0) {
    ThrowSystemError(env, failed, "getpwent_r");
    return env.Undefined();
  }
  return names;
}

}  // namespace sockvisor
