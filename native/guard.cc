// sockvisor-guard: kills sockvisor's children when sockvisor dies without stopping them (kill -9,
// the OOM killer), a small executable of its own that sockvisor starts with a SOCK_SEQPACKET
// socket as fd 0.
//
// Why it exists: the PR_SET_PDEATHSIG that spawn.cc sets is cleared by the kernel as soon as the
// child changes its euid/egid/fsuid/fsgid (prctl(2); commit_creds()). uWSGI started as root with
// --uid/--gid (the usual command line) does exactly that after its start, so after kill -9 of
// sockvisor its master and workers would live on, holding the socket. Only a process that outlives
// sockvisor can still act. Weighed and not taken:
//  - sockvisor switching credentials for uWSGI instead of uWSGI's --uid/--gid: uWSGI does real
//    work as root before it drops privileges (--logto and --pidfile files, --chroot, --cap, hooks,
//    rlimits), which would then fail.
//  - a fork of sockvisor without exec: a copy-on-write Node (tens of MB shown in ps as a second
//    node process) that may only make async-signal-safe calls for its whole life.
// This file is a plain single-threaded program: system calls only, no allocation after start-up
// other than the small table of protected children.
//
// How it works: sockvisor sends PROTECT {pid} with the child's pidfd (SCM_RIGHTS) right after each
// spawn, and RELEASE {pid} once the child and its process group are done with. When the socket
// reaches EOF, every copy of sockvisor's end is closed: sockvisor is gone (or stopping normally,
// with nothing left to protect). The guard then SIGKILLs each protected child's process group and
// the child itself (by pidfd, in case it left its group), and exits.
//
// Process-group ids and reuse: kill(-pgid) must never reach a group whose id was reused. A group id
// stays allocated while any process is in the group, a zombie too, so for each child the guard
// forks a "pin" (a copy of itself that only waits, `sockvisor-pin` in ps) and moves it into the
// child's group with setpgid(). The guard reaps a pin only on RELEASE or after the final kill:
// until then the group id cannot be reused, and kill(-pgid) is safe at any time. setpgid() only joins a group
// that exists in the guard's session, and the pidfd check afterwards proves it is the child's own
// group (see Pin). Where setpgid() is refused (the child called setsid()), only the child
// itself is killed, by its pidfd.
//
// Signals: the guard sits in a process group of its own (terminal ^C does not reach it) and
// ignores the termination signals, so `systemctl stop` (SIGTERM to the whole cgroup) leaves it
// running until sockvisor has stopped the children and exited; it never dies before sockvisor.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "fork_report.h"
#include "guard_protocol.h"
#include "syscalls.h"

namespace {

using sockvisor::GuardReply;
using sockvisor::GuardRequest;
using sockvisor::ReapChild;

constexpr int kControlFd = 0;

struct Protected {
  pid_t pid;
  int pidfd;
  // the pin process holding the group `pid`, or -1
  pid_t pin;
};

void IgnoreTerminationSignals() {
  const int signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH};
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : signals) sigaction(sig, &ignore, nullptr);
  // SIGCHLD keeps its default: pins must stay unreaped (as zombies too) until the guard reaps them.
}

// The pin: waits, in the child's process group, for the guard to kill it. It dies with the
// guard (its credentials never change, so the parent-death signal holds) and ignores everything
// a process group may be sent except SIGKILL.
[[noreturn]] void RunPin(pid_t guard) {
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &ignore, nullptr);
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != guard) _exit(0);
  prctl(PR_SET_NAME, "sockvisor-pin");
  syscall(SYS_close_range, 0U, ~0U, 0U);
  for (;;) pause();
}

// Pins the process group of `pid` with a pin process; returns 0 or the errno of the failed step.
int Pin(Protected* child) {
  pid_t guard = getpid();
  pid_t pin = fork();
  if (pin < 0) return errno;
  if (pin == 0) RunPin(guard);
  if (setpgid(pin, child->pid) != 0) {
    int err = errno;
    kill(pin, SIGKILL);
    ReapChild(pin);
    return err;
  }
  // setpgid() found a group `pid` in our session. It is the child's own group only if the child
  // still held the pid `pid` throughout, i.e. is alive or an unreaped zombie now: a pidfd says so
  // without any race (pidfd_send_signal(2) with signal 0 fails with ESRCH once it is reaped).
  if (syscall(SYS_pidfd_send_signal, child->pidfd, 0, nullptr, 0) != 0) {
    int err = errno;
    kill(pin, SIGKILL);
    ReapChild(pin);
    return err;
  }
  child->pin = pin;
  return 0;
}

void Unpin(Protected* child) {
  if (child->pin <= 0) return;
  kill(child->pin, SIGKILL);
  ReapChild(child->pin);
  child->pin = -1;
}

// Receives one request; returns the byte count (0 at EOF, -1 on error) and the passed fd or -1.
ssize_t Receive(GuardRequest* request, int* passedFd) {
  *passedFd = -1;
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {request, sizeof(*request)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buffer;
  msg.msg_controllen = sizeof(control.buffer);
  ssize_t n;
  do {
    n = recvmsg(kControlFd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(passedFd, CMSG_DATA(c), sizeof(int));
  }
  return n;
}

void Reply(const GuardReply& reply) {
  ssize_t ignored;
  do {
    ignored = send(kControlFd, &reply, sizeof(reply), MSG_NOSIGNAL);
  } while (ignored < 0 && errno == EINTR);
}

void KillAll(std::vector<Protected>* children) {
  for (Protected& child : *children) {
    // The pin holds the group id, so this reaches the child's group and nothing else.
    if (child.pin > 0) kill(-child.pid, SIGKILL);
    syscall(SYS_pidfd_send_signal, child.pidfd, SIGKILL, nullptr, 0);
  }
  for (Protected& child : *children) {
    if (child.pin > 0) ReapChild(child.pin);
    close(child.pidfd);
  }
  children->clear();
}

}  // namespace

int main() {
  IgnoreTerminationSignals();
  std::vector<Protected> children;
  for (;;) {
    GuardRequest request = {};
    int passedFd;
    ssize_t n = Receive(&request, &passedFd);
    if (n <= 0) break;  // EOF: every copy of sockvisor's end is closed. An error: the same, to be safe.
    if (static_cast<size_t>(n) != sizeof(request)) {
      if (passedFd >= 0) close(passedFd);
      continue;
    }
    if (request.op == sockvisor::kGuardProtect) {
      GuardReply reply = {request.pid, 0, EINVAL};
      if (passedFd >= 0 && request.pid > 0) {
        Protected child = {request.pid, passedFd, -1};
        reply.err = Pin(&child);
        reply.pinned = reply.err == 0 ? 1 : 0;
        children.push_back(child);
      }
      Reply(reply);
    } else if (request.op == sockvisor::kGuardRelease) {
      if (passedFd >= 0) close(passedFd);
      for (size_t i = 0; i < children.size(); i++) {
        if (children[i].pid != request.pid) continue;
        Unpin(&children[i]);
        close(children[i].pidfd);
        children.erase(children.begin() + static_cast<long>(i));
        break;
      }
    } else if (passedFd >= 0) {
      close(passedFd);
    }
  }
  KillAll(&children);
  return 0;
}
