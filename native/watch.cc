// Child exit on the event loop without a thread per child and without waitpid(-1): the pidfd
// becomes readable when the process exits (pidfd_open(2)); waitid(P_PIDFD) then reaps exactly it.
#include "watch.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace sockvisor {

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
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, pidfd_);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &ChildWatch::OnReadable);
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    ThrowSystemError(env, -rc, "uv_poll_start");
    return;
  }
  poll_->data = this;
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
  int rc;
  do {
    rc = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &si, WEXITED | WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0 && si.si_pid == 0) return;  // readable but not yet reapable: wait for the next wakeup
  exited_ = true;

  Napi::Env env = onExit_.Env();
  Napi::HandleScope scope(env);
  Napi::Object result = Napi::Object::New(env);
  if (rc < 0) {
    result.Set("code", env.Null());
    result.Set("signal", env.Null());
    result.Set("error", Napi::Number::New(env, errno));
  } else if (si.si_code == CLD_EXITED) {
    result.Set("code", Napi::Number::New(env, si.si_status));
    result.Set("signal", env.Null());
  } else {
    result.Set("code", env.Null());
    result.Set("signal", Napi::Number::New(env, si.si_status));
    result.Set("coreDumped", Napi::Boolean::New(env, si.si_code == CLD_DUMPED));
  }
  Napi::Function callback = onExit_.Value();
  Release();
  callback.MakeCallback(env.Global(), {result});
  if (env.IsExceptionPending()) {
    Napi::Error error = env.GetAndClearPendingException();
    napi_fatal_exception(env, error.Value());
  }
}

// Stops polling and lets the object be collected; the pidfd closes in the destructor.
void ChildWatch::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
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
  // While the leader is unreaped its pid (= the group id) cannot be reused. After it is reaped,
  // the group id stays allocated as long as any member (an orphaned uWSGI worker) lives.
  if (kill(-pid_, signo) != 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

}  // namespace sockvisor
