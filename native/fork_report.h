// fork() with a close-on-exec report pipe, shared by spawn.cc and probe.cc; ReapChild is used by
// sockvisor-guard (guard.cc) too, an executable without Node: system headers only here.
//
// The child of a multi-threaded process (Node) may only make async-signal-safe calls, so the
// caller prepares everything before fork and its child function makes system calls only. The
// child tells the parent how it failed by writing a small struct to the pipe; EOF on the pipe
// means the write end was closed: execve() succeeded (close-on-exec), or the child exited.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sockvisor {

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
// mask and reads up to `size` bytes of report.
template <typename Child>
Forked ForkWithReport(Child&& child, void* report, size_t size) {
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
    got = read(pipe[0], report, size);
  } while (got < 0 && errno == EINTR);
  close(pipe[0]);
  return {pid, 0, nullptr, got};
}

// Reaps one child of ours by pid (never waitpid(-1): other children are not ours to reap).
inline void ReapChild(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace sockvisor
