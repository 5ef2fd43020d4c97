// Child exit on the event loop without a thread per child and without waitpid(-1): the pidfd
// becomes readable when the process exits (pidfd_open(2)); waitid(P_PIDFD) then reaps exactly it.
// Signals go through the pidfd too, so they cannot hit a recycled pid.
#include "child_watch.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <unordered_set>

#include "arguments.h"
#include "child_exit.h"
#include "errors.h"
#include "exports.h"
#include "polled_object.h"
#include "syscalls.h"

namespace sockvisor {
namespace {

// Pids with a live ChildWatch: reaper.cc must never reap them. Touched on the JS thread only.
std::unordered_set<pid_t> watched;

// new ChildWatch(pidfd, pid, onExit): takes ownership of the pidfd; onExit(exit) once, when reaped.
class ChildWatch : public PolledObject<ChildWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ChildWatch",
                       {InstanceMethod("signal", &ChildWatch::Signal), InstanceMethod("signalGroup", &ChildWatch::SignalGroup)});
  }

  explicit ChildWatch(const Napi::CallbackInfo& info) : PolledObject<ChildWatch>(info) {
    if (!HasArgs(info, {Arg::kNumber, Arg::kNumber, Arg::kFunction}, "new ChildWatch(pidfd, pid, onExit)")) return;
    pid_ = info[1].As<Napi::Number>().Int32Value();
    // Kept alive by the loop while the child runs, even if JS drops every reference to it.
    if (!Start(info.Env(), info[0].As<Napi::Number>().Int32Value(), info[2].As<Napi::Function>(), /*keepLoopAlive=*/true)) return;
    watched.insert(pid_);
  }

  // signal(signo) -> null, or the errno code ('ESRCH' once the child has exited).
  Napi::Value Signal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!HasArgs(info, {Arg::kNumber}, "signal(signo)")) return env.Undefined();
    int signo = info[0].As<Napi::Number>().Int32Value();
    if (!polling()) return Napi::String::New(env, "ESRCH");
    if (syscall(SYS_pidfd_send_signal, fd(), signo, nullptr, 0) != 0) return Napi::String::New(env, ErrnoName(errno));
    return env.Null();
  }

  // signalGroup(signo) -> null or the errno code: kill(-pid), only while the leader is unreaped.
  Napi::Value SignalGroup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!HasArgs(info, {Arg::kNumber}, "signalGroup(signo)")) return env.Undefined();
    int signo = info[0].As<Napi::Number>().Int32Value();
    // Only while the leader is unreaped: its pid, which is the group id, cannot be reused until
    // then. Once it is reaped the id may be reused by the time a member is gone, so orphans left in
    // the group are signalled one by one, by pid, as sockvisor's own children (reaper.cc).
    if (!polling()) return Napi::String::New(env, "ESRCH");
    if (kill(-pid_, signo) != 0) return Napi::String::New(env, ErrnoName(errno));
    return env.Null();
  }

 private:
  // Reaps the child; the pidfd closes with the poll handle, so restarts do not pile up descriptors.
  void OnReadable() override {
    siginfo_t si = {};
    int rc = WaitId(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd()), &si, WEXITED | WNOHANG);
    int err = errno;
    if (rc == 0 && si.si_pid == 0) return;  // readable but not yet reapable: wait for the next wakeup
    Napi::Env env = Env();
    Napi::Object result = rc == 0 ? ExitObject(env, si) : Napi::Object::New(env);
    if (rc < 0) {
      result.Set("code", env.Null());
      result.Set("signal", env.Null());
      result.Set("error", Napi::Number::New(env, err));
    }
    watched.erase(pid_);
    CallLast({result});
  }

  pid_t pid_ = -1;
};

}  // namespace

bool IsWatchedChild(pid_t pid) { return watched.count(pid) > 0; }

Napi::Value IsWatchedChildJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber}, "isWatchedChild(pid)")) return env.Undefined();
  return Napi::Boolean::New(env, IsWatchedChild(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Function DefineChildWatch(Napi::Env env) { return ChildWatch::Define(env); }

}  // namespace sockvisor
