// Child exit on the event loop without a thread per child and without waitpid(-1): the pidfd
// becomes readable when the process exits (pidfd_open(2)); waitid(P_PIDFD) then reaps exactly it.
#include "watch.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <unordered_set>

#include "child_exit.h"
#include "errors.h"
#include "polled_fd.h"
#include "syscalls.h"

namespace sockvisor {

namespace {
// Pids with a live ChildWatch: reaper.cc must never reap them. Touched on the JS thread only.
std::unordered_set<pid_t> watched;
}  // namespace

bool IsWatchedChild(pid_t pid) { return watched.count(pid) > 0; }

Napi::Value IsWatchedChildJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(env, "isWatchedChild(pid)");
    return env.Undefined();
  }
  return Napi::Boolean::New(env, IsWatchedChild(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Function ChildWatch::Define(Napi::Env env) {
  return DefineClass(env, "ChildWatch",
                     {InstanceMethod("signal", &ChildWatch::Signal),
                      InstanceMethod("signalGroup", &ChildWatch::SignalGroup)});
}

ChildWatch::ChildWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ChildWatch>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction()) {
    pidfd_ = -1;
    pid_ = -1;
    exited_ = true;
    ThrowTypeError(env, "new ChildWatch(pidfd, pid, onExit)");
    return;
  }
  pidfd_ = info[0].As<Napi::Number>().Int32Value();
  pid_ = info[1].As<Napi::Number>().Int32Value();
  onExit_ = Napi::Persistent(info[2].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int rc;
  poll_ = StartPolling(loop, pidfd_, &ChildWatch::OnReadable, this, &rc);
  if (poll_ == nullptr) {
    ThrowSystemError(env, -rc, "uv_poll_start");
    return;
  }
  watched.insert(pid_);
  // Kept alive by the loop while the child runs, even if JS drops every reference to it.
  self_ = Napi::Persistent(Value());
}

ChildWatch::~ChildWatch() {
  if (pidfd_ >= 0) close(pidfd_);
}

void ChildWatch::OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  ChildWatch* self = static_cast<ChildWatch*>(handle->data);
  if (status < 0 && status != UV_EBADF) return;
  self->Reap();
}

void ChildWatch::Reap() {
  siginfo_t si = {};
  int rc = WaitId(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &si, WEXITED | WNOHANG);
  if (rc == 0 && si.si_pid == 0) return;  // readable but not yet reapable: wait for the next wakeup
  exited_ = true;

  Napi::Env env = onExit_.Env();
  Napi::HandleScope scope(env);
  Napi::Object result = rc == 0 ? ExitObject(env, si) : Napi::Object::New(env);
  if (rc < 0) {
    result.Set("code", env.Null());
    result.Set("signal", env.Null());
    result.Set("error", Napi::Number::New(env, errno));
  }
  Napi::Function callback = onExit_.Value();
  Release();
  CallFromLoop(env, callback, {result});
}

// Stops polling and lets the object be collected. The pidfd closes now (with the poll handle),
// not when the garbage collector gets to the object: restarts must not pile up descriptors.
void ChildWatch::Release() {
  watched.erase(pid_);
  if (poll_ != nullptr) {
    StopPolling(poll_);
    poll_ = nullptr;
    pidfd_ = -1;
  }
  onExit_.Reset();
  self_.Reset();
}

Napi::Value ChildWatch::Signal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signo = info[0].As<Napi::Number>().Int32Value();
  if (exited_) return Napi::String::New(env, "ESRCH");
  if (syscall(SYS_pidfd_send_signal, pidfd_, signo, nullptr, 0) != 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

Napi::Value ChildWatch::SignalGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signo = info[0].As<Napi::Number>().Int32Value();
  // Only while the leader is unreaped: its pid, which is the group id, cannot be reused until
  // then. Once it is reaped the id may be reused by the time a member is gone, so orphans left in
  // the group are signalled one by one, by pid, as sockvisor's own children (reaper.cc).
  if (exited_) return Napi::String::New(env, "ESRCH");
  if (kill(-pid_, signo) != 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

}  // namespace sockvisor
