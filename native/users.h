#pragma once
#include <napi.h>

namespace sockvisor {
// lookupUser(name | uid) -> { name, uid, gid, home, shell } | null (through NSS, like id(1))
Napi::Value LookupUser(const Napi::CallbackInfo& info);
// lookupGroup(name | gid) -> { name, gid, members } | null
Napi::Value LookupGroup(const Napi::CallbackInfo& info);
// groupList(userName, primaryGid) -> gids, as initgroups(3) would set them
Napi::Value GroupList(const Napi::CallbackInfo& info);
// usersWithPrimaryGroup(gid) -> names of the users whose passwd entry has this gid (getpwent_r)
Napi::Value UsersWithPrimaryGroup(const Napi::CallbackInfo& info);
}  // namespace sockvisor
