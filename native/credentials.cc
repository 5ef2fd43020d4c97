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
  // Raw system calls: they change the calling process only. glibc's wrappers would also signal every
  // other thread glibc knows of, which in spawn.cc's clone(CLONE_VM) child are the parent's threads.
  if (credentials.setGroups && syscall(SYS_setgroups, credentials.groups.size(), credentials.groups.data()) != 0) return "setgroups";
  if (credentials.gid >= 0 && syscall(SYS_setgid, static_cast<gid_t>(credentials.gid)) != 0) return "setgid";
  if (credentials.uid >= 0 && syscall(SYS_setuid, static_cast<uid_t>(credentials.uid)) != 0) return "setuid";
  return nullptr;
}

}  // namespace sockvisor
