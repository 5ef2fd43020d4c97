// User and group resolution through NSS (getpwnam_r & co.), done before fork: NSS may load
// modules and take locks, which the child of a threaded process must never do.
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "arguments.h"
#include "errors.h"
#include "exports.h"

namespace sockvisor {
namespace {

constexpr size_t kBufferStart = 16384;
constexpr size_t kBufferMax = 1 << 22;

// Runs an NSS call of the _r family, lookup(buffer, size) -> its return code, with a buffer that
// doubles while the entry does not fit (ERANGE), up to 4 MiB. A call that fails with ERANGE has
// not moved on: getpwent_r gives the same entry again.
template <typename Lookup>
int WithNssBuffer(std::vector<char>* buffer, Lookup lookup) {
  for (;;) {
    int rc = lookup(buffer->data(), buffer->size());
    if (rc != ERANGE || buffer->size() >= kBufferMax) return rc;
    buffer->resize(buffer->size() * 2);
  }
}

}  // namespace

Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() && !HasArgs(info, {Arg::kString}, "lookupUser(name | uid)")) return env.Undefined();
  std::vector<char> buffer(kBufferStart);
  passwd pw;
  passwd* found = nullptr;
  int rc;
  if (info[0].IsNumber()) {
    uid_t uid = info[0].As<Napi::Number>().Uint32Value();
    rc = WithNssBuffer(&buffer, [&](char* at, size_t size) { return getpwuid_r(uid, &pw, at, size, &found); });
  } else {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    rc = WithNssBuffer(&buffer, [&](char* at, size_t size) { return getpwnam_r(name.c_str(), &pw, at, size, &found); });
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
  if (!info[0].IsNumber() && !HasArgs(info, {Arg::kString}, "lookupGroup(name | gid)")) return env.Undefined();
  std::vector<char> buffer(kBufferStart);
  group gr;
  group* found = nullptr;
  int rc;
  if (info[0].IsNumber()) {
    gid_t gid = info[0].As<Napi::Number>().Uint32Value();
    rc = WithNssBuffer(&buffer, [&](char* at, size_t size) { return getgrgid_r(gid, &gr, at, size, &found); });
  } else {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    rc = WithNssBuffer(&buffer, [&](char* at, size_t size) { return getgrnam_r(name.c_str(), &gr, at, size, &found); });
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
  if (!HasArgs(info, {Arg::kString, Arg::kNumber}, "groupList(userName, primaryGid)")) return env.Undefined();
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
  if (!HasArgs(info, {Arg::kNumber}, "usersWithPrimaryGroup(gid)")) return env.Undefined();
  gid_t gid = info[0].As<Napi::Number>().Uint32Value();
  Napi::Array names = Napi::Array::New(env);
  std::vector<char> buffer(kBufferStart);
  passwd pw;
  passwd* found = nullptr;
  uint32_t count = 0;
  int failed = 0;
  setpwent();
  for (;;) {
    int rc = WithNssBuffer(&buffer, [&](char* at, size_t size) { return getpwent_r(&pw, at, size, &found); });
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
