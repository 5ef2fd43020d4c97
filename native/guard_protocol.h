// The messages between sockvisor (native/guard_channel.cc) and sockvisor-guard (native/guard.cc),
// one per SOCK_SEQPACKET datagram. Both ends are built from this one header at the same time.
#pragma once
#include <stdint.h>

namespace sockvisor {

enum GuardOp : uint32_t {
  // Protect the child `pid`; its pidfd travels with the message (SCM_RIGHTS). Answered by a GuardReply.
  kGuardProtect = 1,
  // The child `pid` and its process group are done with: drop the pin. Not answered.
  kGuardRelease = 2,
};

struct GuardRequest {
  uint32_t op;
  int32_t pid;
};

struct GuardReply {
  int32_t pid;
  // 1: the child's process group is pinned and will be killed as a whole if sockvisor dies;
  // 0: only the child itself (by its pidfd) will be, for the reason in err.
  int32_t pinned;
  // errno of the step that failed (setpgid, fork), 0 when pinned
  int32_t err;
};

}  // namespace sockvisor
