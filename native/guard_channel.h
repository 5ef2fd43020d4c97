#pragma once
#include <napi.h>

namespace sockvisor {
// openGuardChannel() -> { ours, guards }: a close-on-exec SOCK_SEQPACKET socketpair; `guards` is
// handed to sockvisor-guard as its fd 0 and then closed here.
Napi::Value OpenGuardChannel(const Napi::CallbackInfo& info);
// guardProtect(channelFd, pid, pidfd, timeoutMs) -> { pinned, error }: sends the child's pidfd to
// the guard and waits (at most timeoutMs) for its answer; throws when the guard does not answer.
Napi::Value GuardProtect(const Napi::CallbackInfo& info);
// guardRelease(channelFd, pid) -> null or the errno code: the guard forgets the child.
Napi::Value GuardRelease(const Napi::CallbackInfo& info);
// duplicateFd(fd) -> a close-on-exec copy (F_DUPFD_CLOEXEC), so the caller owns its own pidfd.
Napi::Value DuplicateFd(const Napi::CallbackInfo& info);
}  // namespace sockvisor
