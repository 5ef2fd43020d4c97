// fork() (connect_as.cc) or a clone sharing memory until exec (spawn.cc) with a close-on-exec report
// pipe; ReapChild is used by sockvisor-guard (guard.cc) too, an executable without Node: system
// headers only here.
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
#include <sched.h>
#include <sys/mman.h>
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

// The parent's side once the child runs (or failed to start: pid < 0, err from syscall): reads the
// child's report, if it wrote one, and closes the pipe's read end.
inline Forked ReadReport(pid_t pid, int err, const char* syscall, int readFd, ChildReport* report) {
  if (pid < 0) {
    close(readFd);
    return {-1, err, syscall, 0};
  }
  ssize_t got;
  do {
    got = read(readFd, report, sizeof(*report));
  } while (got < 0 && errno == EINTR);
  close(readFd);
  report->syscall[sizeof(report->syscall) - 1] = '\0';
  return {pid, 0, nullptr, got};
}

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
  return ReadReport(pid, forkErr, "fork", pipe[0], report);
}

// fork() without copying the parent's memory: clone(CLONE_VM | CLONE_VFORK), as posix_spawn(3)
// does. fork() of a Node process copies its page tables (about 1 MB for 60 MB resident) and marks
// every page copy-on-write, which the exec then tears down again: about a millisecond of a restart.
// Here the child borrows the parent's memory on a stack of its own, and the calling thread sleeps
// until the child has exec'd or exited (other threads run on). So the child must change nothing the
// parent relies on (it writes its own stack, errno, which is the sleeping thread's, and what the
// caller set aside for it) and make raw system calls only: glibc's set*id() wrappers would signal
// the parent's threads (credentials.cc uses syscall(2)). All signals stay blocked until the child
// has reset their dispositions, so no handler of the parent can run on its memory.
template <typename Child>
Forked SpawnWithReport(Child&& child, ChildReport* report) {
  // The child's frames are small (a few kB): 64 kB, only what it touches is ever allocated.
  constexpr size_t kStackSize = 64 * 1024;
  int pipe[2];
  if (pipe2(pipe, O_CLOEXEC) != 0) return {-1, errno, "pipe2", 0};
  void* stack = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    int err = errno;
    close(pipe[0]);
    close(pipe[1]);
    return {-1, err, "mmap", 0};
  }
  struct Call {
    Child* child;
    int readFd;
    int reportFd;
  } call = {&child, pipe[0], pipe[1]};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(
      [](void* arg) -> int {
        Call* c = static_cast<Call*>(arg);
        close(c->readFd);
        (*c->child)(c->reportFd);
        _exit(127);  // not reached: child() execs or exits
      },
      static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &call);
  int cloneErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // The child has exec'd or exited: its stack is no longer in use.
  munmap(stack, kStackSize);
  close(pipe[1]);
  return ReadReport(pid, cloneErr, "clone", pipe[0], report);
}

// Reaps one child of ours by pid (never waitpid(-1): other children are not ours to reap).
inline void ReapChild(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace sockvisor
