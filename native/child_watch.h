#pragma once
#include <napi.h>
#include <uv.h>

#include "polled_fd.h"

namespace sockvisor {

// Whether a live ChildWatch owns pid (reaper.cc reaps only the others).
bool IsWatchedChild(pid_t pid);
// isWatchedChild(pid) -> boolean, for the reaper's policy in TypeScript.
Napi::Value IsWatchedChildJs(const Napi::CallbackInfo& info);

// A child process known by its pidfd: exit notification on libuv's loop and signals that cannot
// hit a recycled pid. new ChildWatch(pidfd, pid, onExit) takes ownership of the pidfd.
class ChildWatch : public Napi::ObjectWrap<ChildWatch> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ChildWatch(const Napi::CallbackInfo& info);
  ~ChildWatch() override;

 private:
  // signal(signo) -> null, or the errno code ('ESRCH' once the child has exited).
  Napi::Value Signal(const Napi::CallbackInfo& info);
  // signalGroup(signo) -> null or the errno code: kill(-pid), only while the leader is unreaped
  // ('ESRCH' after: the group id may have been reused).
  Napi::Value SignalGroup(const Napi::CallbackInfo& info);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  void Reap();
  void Release();

  int pidfd_;
  int pid_;
  bool exited_ = false;
  PolledFd* poll_ = nullptr;
  Napi::FunctionReference onExit_;
  Napi::ObjectReference self_;
};

}  // namespace sockvisor
