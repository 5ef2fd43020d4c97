// fork + exec with an exact descriptor layout, credentials and a parent-death signal.
//
// The child is cloned sharing sockvisor's memory until it execs (SpawnWithReport, fork_report.h: no
// page tables copied, which made up most of a restart's time). Between the clone and execve() it may
// only make raw system calls: everything is prepared in the parent (argv, envp, group list). An error
// in the child travels back as {syscall, errno} over a close-on-exec pipe: EOF on that pipe means
// execve() succeeded.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "arguments.h"
#include "credentials.h"
#include "errors.h"
#include "exports.h"
#include "fork_report.h"
#include "syscalls.h"

namespace sockvisor {
namespace {

constexpr const char* kUsage = "spawn({ file, argv, envp, fds, uid?, gid?, groups?, cwd?, listenPid, pdeathsig, processGroup? })";

struct Plan {
  std::string file;
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::vector<int> fds;
  Credentials credentials;
  std::string cwd;
  bool listenPid = false;
  int pdeathsig = 0;
  bool processGroup = true;
};

std::vector<std::string> StringArray(Napi::Value value) {
  std::vector<std::string> out;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

bool ReadPlan(Napi::Object o, Plan* plan) {
  if (!HasFields(o, {{"file", Arg::kString}, {"argv", Arg::kArray}, {"envp", Arg::kArray}, {"fds", Arg::kArray}}, kUsage)) {
    return false;
  }
  plan->file = o.Get("file").As<Napi::String>().Utf8Value();
  plan->argv = StringArray(o.Get("argv"));
  plan->envp = StringArray(o.Get("envp"));
  Napi::Array fds = o.Get("fds").As<Napi::Array>();
  for (uint32_t i = 0; i < fds.Length(); i++) plan->fds.push_back(fds.Get(i).As<Napi::Number>().Int32Value());
  plan->credentials = ReadCredentials(o);
  if (o.Get("cwd").IsString()) plan->cwd = o.Get("cwd").As<Napi::String>().Utf8Value();
  plan->listenPid = o.Get("listenPid").ToBoolean();
  if (o.Get("pdeathsig").IsNumber()) plan->pdeathsig = o.Get("pdeathsig").As<Napi::Number>().Int32Value();
  if (o.Has("processGroup")) plan->processGroup = o.Get("processGroup").ToBoolean();
  return true;
}

// Async-signal-safe decimal formatting (no snprintf after fork).
void FormatDecimal(char* out, long value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) *out++ = digits[--n];
  *out = '\0';
}

// Runs in the child between fork() and execve(): system calls only.
[[noreturn]] void RunChild(const Plan& plan, char* const argv[], char* const envp[], char* listenPidValue,
                           int reportFd, pid_t parent) {
  // Node ignores SIGPIPE and handles others; ignored dispositions survive execve, so reset all.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);

  // Its own process group: a stop can then SIGKILL the server together with its workers.
  if (plan.processGroup && setpgid(0, 0) != 0) ExitWithReport(reportFd, "setpgid", errno);
  if (const char* failed = TakeCredentials(plan.credentials)) ExitWithReport(reportFd, failed, errno);
  // After the credential change: changing euid/egid clears the parent-death signal (prctl(2)).
  if (plan.pdeathsig > 0) {
    if (prctl(PR_SET_PDEATHSIG, plan.pdeathsig) != 0) ExitWithReport(reportFd, "prctl", errno);
    // The parent may have died before prctl(): then no signal will ever come.
    if (getppid() != parent) ExitWithReport(reportFd, "getppid", ESRCH);
  }

  // Exact layout: child fd i = plan.fds[i]. Sources may sit inside 0..n-1 (and so may the report
  // pipe), so first lift every source above n, then dup2 into place (dup2 clears FD_CLOEXEC).
  const int n = static_cast<int>(plan.fds.size());
  reportFd = fcntl(reportFd, F_DUPFD_CLOEXEC, n);
  if (reportFd < 0) _exit(127);
  int lifted[64];
  for (int i = 0; i < n; i++) {
    lifted[i] = fcntl(plan.fds[i], F_DUPFD_CLOEXEC, n);
    if (lifted[i] < 0) ExitWithReport(reportFd, "dup", errno);
  }
  for (int i = 0; i < n; i++) {
    if (dup2(lifted[i], i) < 0) ExitWithReport(reportFd, "dup", errno);
  }
  // Everything above the layout closes at exec; the report pipe too, which is how the parent
  // learns that exec succeeded.
  if (syscall(SYS_close_range, n, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = n; fd < 65536; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  // libuv may have made a shared stdio pipe non-blocking; servers expect blocking stdio.
  for (int fd = 0; fd < 3 && fd < n; fd++) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }

  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) ExitWithReport(reportFd, "chdir", errno);
  // uWSGI and sd_listen_fds() accept the sockets only when LISTEN_PID is their own pid.
  if (listenPidValue != nullptr) FormatDecimal(listenPidValue, static_cast<long>(getpid()));

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.file.c_str(), argv, envp);
  ExitWithReport(reportFd, "execve", errno);
}

}  // namespace

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kObject}, kUsage)) return env.Undefined();
  Plan plan;
  if (!ReadPlan(info[0].As<Napi::Object>(), &plan)) return env.Undefined();
  if (plan.fds.size() > 64 || plan.argv.empty()) {
    ThrowTypeError(env, "spawn: argv must not be empty and at most 64 fds can be passed");
    return env.Undefined();
  }

  // Everything the child needs is built here, before fork.
  std::vector<char*> argv;
  for (auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : plan.envp) envp.push_back(const_cast<char*>(e.c_str()));
  char listenPid[40] = "LISTEN_PID=";
  char* listenPidValue = nullptr;
  if (plan.listenPid) {
    listenPidValue = listenPid + sizeof("LISTEN_PID=") - 1;
    envp.push_back(listenPid);
  }
  envp.push_back(nullptr);

  // The child resets signal dispositions, then unblocks signals just before execve.
  pid_t parent = getpid();
  ChildReport childReport;
  Forked forked =
      SpawnWithReport([&](int reportFd) { RunChild(plan, argv.data(), envp.data(), listenPidValue, reportFd, parent); }, &childReport);
  if (forked.pid < 0) {
    ThrowSystemError(env, forked.err, forked.syscall);
    return env.Undefined();
  }
  pid_t pid = forked.pid;
  if (forked.got == static_cast<ssize_t>(sizeof(childReport))) {
    // The child failed before exec and has exited: reap it (it is ours) and report why.
    ReapChild(pid);
    ThrowSystemError(env, childReport.err, childReport.syscall, plan.file);
    return env.Undefined();
  }

  // The child cannot be reaped by anyone else (we never waitpid(-1)), so its pid stays valid
  // until we reap it: pidfd_open here is free of pid-reuse races. pidfd_open(2) sets close-on-exec
  // on the new fd itself (the kernel opens pidfds O_CLOEXEC), so no later server inherits it.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    ReapChild(pid);
    ThrowSystemError(env, err, "pidfd_open");
    return env.Undefined();
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("pidfd", Napi::Number::New(env, pidfd));
  return result;
}

}  // namespace sockvisor
