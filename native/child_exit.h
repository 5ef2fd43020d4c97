// waitid(2) retried on EINTR, and a reaped child's siginfo as JavaScript sees it: shared by
// child_watch.cc (sockvisor's children, by pidfd) and reaper.cc (orphans, by pid).
#pragma once
#include <errno.h>
#include <napi.h>
#include <sys/wait.h>

namespace sockvisor {

// waitid(2) until it is not interrupted: 0 (with WNOHANG and nothing to report, si->si_pid is left
// 0: zero si before), or -1 with errno set.
inline int WaitId(idtype_t idtype, id_t id, siginfo_t* si, int options) {
  int rc;
  do {
    rc = waitid(idtype, id, si, options);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

// { code, signal: null } for an exit, { code: null, signal, coreDumped } for a death by signal
// (NativeExit in src/native.ts).
inline Napi::Object ExitObject(Napi::Env env, const siginfo_t& si) {
  Napi::Object result = Napi::Object::New(env);
  if (si.si_code == CLD_EXITED) {
    result.Set("code", Napi::Number::New(env, si.si_status));
    result.Set("signal", env.Null());
  } else {
    result.Set("code", env.Null());
    result.Set("signal", Napi::Number::New(env, si.si_status));
    result.Set("coreDumped", Napi::Boolean::New(env, si.si_code == CLD_DUMPED));
  }
  return result;
}

}  // namespace sockvisor
