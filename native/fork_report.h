// fork() with a close-on-exec report pipe, shared by spawn.cc and connect_as.cc; ReapChild is used
// by sockvisor-guard (guard.cc) too, an executable without Node: system headers only here.
//
// The child of a multi-threaded process (Node) may only make async-signal-safe calls, so the
// caller prepares everything before fork and its child function makes system calls only. The
// child tells the parent how it failed by writing a ChildReport to the pipe; EOF on the pipe
// means the write end was closed: execve() succeeded (close-on-exec), or the child exited.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sockvisor {

// What a child writes before it exits: the system call that failed (or, for connect_as.cc, the
// last one it made) and its errno. The name is copied in, so the parent needs no table of steps.
struct ChildReport {
  int err;
  char syscall[16];
};

// In the child: writes {syscall, err} to the report pipe and exits. Async-signal-safe.
[[noreturn]] inline void ExitWithReport(int reportFd, const char* syscall, int err) {
  ChildReport report = {err, {}};
  for (size_t i = 0; i + 1 < sizeof(report.syscall) && syscall[i] != '\0'; i++) report.syscall[i] = syscall[i];
  ssize_t ignored = write(reportFd, &report, sizeof(report));
  (void)ignored;
  _exit(127);
}

struct Forked {
  // the child's pid; -1 when pipe2 or fork failed (then err and syscall say why)
  pid_t pid;
  int err;
  const char* syscall;
  // bytes of the report read: 0 when the child wrote none
  ssize_t got;
};

// Forks with every signal blocked, so no JS-level handler runs in the child; the child runs
// child(reportFd), which must exec or _exit and never return. The parent restores its signal
// mask and reads the report, if the child wrote one (got == sizeof(ChildReport); its syscall
// then NUL-terminated).
template <typename Child>
Forked ForkWithReport(Child&& child, ChildReport* report) {
  int pipe[2];
  if (pipe2(pipe, O_CLOEXEC) != 0) return {-1, errno, "pipe2", 0};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe[0]);
    child(pipe[1]);
    _exit(127);  // not reached: child() execs or exits
  }
  int forkErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(pipe[1]);
  if (pid < 0) {
    close(pipe[0]);
    return {-1, forkErr, "fork", 0};
  }
  ssize_t got;
  do {
    got = read(pipe[0], report, sizeof(*report));
  } while (got < 0 && errno == EINTR);
  close(pipe[0]);
  report->syscall[sizeof(report->syscall) - 1] = '\0';
  return {pid, 0, nullptr, got};
}

// Reaps one child of ours by pid (never waitpid(-1): other children are not ours to reap).
inline void ReapChild(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace sockvisor
