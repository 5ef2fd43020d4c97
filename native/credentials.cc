// See credentials.h.
#include "credentials.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace sockvisor {
namespace {

// 32-bit x86 and ARM keep 16-bit ids in the plain calls; glibc uses the *32 ones there, and so do we.
#ifdef SYS_setgroups32
constexpr long kSetgroups = SYS_setgroups32, kSetgid = SYS_setgid32, kSetuid = SYS_setuid32;
#else
constexpr long kSetgroups = SYS_setgroups, kSetgid = SYS_setgid, kSetuid = SYS_setuid;
#endif

}  // namespace

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
  const auto& groups = credentials.groups;
  if (credentials.setGroups && syscall(kSetgroups, groups.size(), groups.data()) != 0) return "setgroups";
  if (credentials.gid >= 0 && syscall(kSetgid, static_cast<gid_t>(credentials.gid)) != 0) return "setgid";
  if (credentials.uid >= 0 && syscall(kSetuid, static_cast<uid_t>(credentials.uid)) != 0) return "setuid";
  return nullptr;
}

}  // namespace sockvisor
