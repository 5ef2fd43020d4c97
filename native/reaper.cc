// Orphans: sockvisor is a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER; PID 1 of a pid
// namespace is one by nature), so a process whose parent dies below sockvisor (a uWSGI worker
// after kill -9 of its master) becomes sockvisor's child. These calls reap and signal such
// orphans by pid, and refuse sockvisor's own children: those are watched by pidfd and reaped by
// their ChildWatch (child_watch.cc) alone, so that no exit status is ever stolen from it.
//
// Signalling by pid is safe here: an unreaped child's pid cannot be reused, and every reap in
// sockvisor happens on the JS thread, so between the check and the kill nothing can reap it.
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "arguments.h"
#include "child_exit.h"
#include "child_watch.h"
#include "errors.h"
#include "exports.h"

namespace sockvisor {

namespace {

bool ReadPid(const Napi::CallbackInfo& info, const char* usage, pid_t* pid) {
  if (!HasArgs(info, {Arg::kNumber}, usage)) return false;
  *pid = info[0].As<Napi::Number>().Int32Value();
  if (*pid <= 0) {
    ThrowTypeError(info.Env(), usage);
    return false;
  }
  if (IsWatchedChild(*pid)) {
    ThrowTypeError(info.Env(), std::string(usage) + ": pid " + std::to_string(*pid) + " is watched by a ChildWatch, not an orphan");
    return false;
  }
  return true;
}

}  // namespace

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) ThrowSystemError(env, errno, "prctl");
  return env.Undefined();
}

Napi::Value ReapOrphan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid;
  if (!ReadPid(info, "reapOrphan(pid)", &pid)) return env.Undefined();
  siginfo_t si = {};
  if (WaitId(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG) < 0) {
    ThrowSystemError(env, errno, "waitid");
    return env.Undefined();
  }
  if (si.si_pid == 0) return env.Null();  // still running
  return ExitObject(env, si);
}

Napi::Value SignalOrphan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid;
  if (!HasArgs(info, {Arg::kNumber, Arg::kNumber}, "signalOrphan(pid, signo)")) return env.Undefined();
  if (!ReadPid(info, "signalOrphan(pid, signo)", &pid)) return env.Undefined();
  // WNOWAIT peeks without reaping: ECHILD unless pid is our child and not yet reaped, which is
  // exactly when its pid cannot have been reused.
  siginfo_t si = {};
  if (WaitId(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) < 0) return Napi::String::New(env, ErrnoName(errno));
  if (kill(pid, info[1].As<Napi::Number>().Int32Value()) != 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

}  // namespace sockvisor
