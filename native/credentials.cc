// See credentials.h.
#include "credentials.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace sockvisor {

Credentials ReadCredentials(const Napi::Object& options) {
  Credentials credentials;
  if (options.Get("uid").IsNumber()) credentials.uid = options.Get("uid").As<Napi::Number>().Int64Value();
  if (options.Get("gid").IsNumber()) credentials.gid = options.Get("gid").As<Napi::Number>().Int64Value();
  if (options.Get("groups").IsArray()) {
    credentials.setGroups = true;
    Napi::Array groups = options.Get("groups").As<Napi::Array>();
    for (uint32_t i = 0; i < groups.Length(); i++) credentials.groups.push_back(groups.Get(i).As<Napi::Number>().Uint32Value());
  }
  return credentials;
}

const char* TakeCredentials(const Credentials& credentials) {
  // Raw system calls: they change the calling process only. glibc's wrappers, in a process it knows
  // to be multi-threaded, take its thread-list lock and try to signal every other thread to change
  // too: in spawn.cc's clone(CLONE_VM) child, that lock and those threads are the parent's.
  if (credentials.setGroups && syscall(SYS_setgroups, credentials.groups.size(), credentials.groups.data()) != 0) return "setgroups";
  if (credentials.gid >= 0 && syscall(SYS_setgid, static_cast<gid_t>(credentials.gid)) != 0) return "setgid";
  if (credentials.uid >= 0 && syscall(SYS_setuid, static_cast<uid_t>(credentials.uid)) != 0) return "setuid";
  return nullptr;
}

}  // namespace sockvisor
