// The switch to another user's credentials in a forked child, for spawn.cc (a server started as
// its user) and connect_as.cc (a connect() as nginx's user). Read in the parent, taken in the child.
#pragma once
#include <napi.h>
#include <sys/types.h>

#include <vector>

namespace sockvisor {

struct Credentials {
  // -1: keep the current one
  int64_t uid = -1;
  int64_t gid = -1;
  // false: keep the current supplementary groups
  bool setGroups = false;
  std::vector<gid_t> groups;
};

// Reads { uid?, gid?, groups? } (numbers, and an array of gids) from an options object: a missing
// or negative id, or no groups array, keeps the current one. In the parent, before fork.
Credentials ReadCredentials(const Napi::Object& options);

// In the child, after fork or clone: setgroups, setgid, then setuid (the last, since it gives up the
// right to the other two). Raw system calls only (syscall(2)), async-signal-safe. nullptr when done, else the name of the
// call that failed, errno set.
const char* TakeCredentials(const Credentials& credentials);

}  // namespace sockvisor
