#pragma once
#include <napi.h>

namespace sockvisor {
// setChildSubreaper(): prctl(PR_SET_CHILD_SUBREAPER, 1); orphaned descendants become our children.
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info);
// reapOrphan(pid) -> { code, signal, coreDumped? } (as a ChildWatch reports) once reaped, null while it runs: waitid(P_PID, WNOHANG).
// Throws a TypeError for a pid a ChildWatch owns: those are never reaped here.
Napi::Value ReapOrphan(const Napi::CallbackInfo& info);
// signalOrphan(pid, signo) -> null or the errno code (ECHILD: not an unreaped child of ours).
Napi::Value SignalOrphan(const Napi::CallbackInfo& info);
}  // namespace sockvisor
