// sockvisor's end of the channel to sockvisor-guard (native/guard.cc): a SOCK_SEQPACKET socketpair,
// so each message keeps its boundaries, fds travel with SCM_RIGHTS, and the guard sees EOF the
// moment sockvisor's last copy of its end is closed, however sockvisor ended.
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arguments.h"
#include "errors.h"
#include "exports.h"
#include "guard_protocol.h"

namespace sockvisor {

Napi::Value OpenGuardChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  // Both ends close-on-exec: no server may hold a copy of sockvisor's end, or the guard would not
  // see EOF when sockvisor dies. The guard's end reaches the guard through spawn's dup2.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    ThrowSystemError(env, errno, "socketpair");
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("ours", Napi::Number::New(env, fds[0]));
  result.Set("guards", Napi::Number::New(env, fds[1]));
  return result;
}

Napi::Value GuardProtect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber, Arg::kNumber, Arg::kNumber, Arg::kNumber}, "guardProtect(channelFd, pid, pidfd, timeoutMs)")) {
    return env.Undefined();
  }
  int channel = info[0].As<Napi::Number>().Int32Value();
  GuardRequest request = {kGuardProtect, info[1].As<Napi::Number>().Int32Value()};
  int pidfd = info[2].As<Napi::Number>().Int32Value();
  int timeoutMs = info[3].As<Napi::Number>().Int32Value();

  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct iovec iov = {&request, sizeof(request)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buffer;
  msg.msg_controllen = sizeof(control.buffer);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
  // Never blocks the event loop: a guard that stopped reading is an error, not a wait.
  ssize_t sent;
  do {
    sent = sendmsg(channel, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    ThrowSystemError(env, errno, "sendmsg");
    return env.Undefined();
  }

  // The guard answers within a fork() and a setpgid(); the wait is bounded all the same.
  struct pollfd pfd = {channel, POLLIN, 0};
  int ready;
  do {
    ready = poll(&pfd, 1, timeoutMs);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    ThrowSystemError(env, ready == 0 ? ETIMEDOUT : errno, "poll");
    return env.Undefined();
  }
  GuardReply reply = {};
  ssize_t got;
  do {
    got = recv(channel, &reply, sizeof(reply), MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof(reply)) || reply.pid != request.pid) {
    ThrowSystemError(env, got < 0 ? errno : EPIPE, "recv");
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pinned", Napi::Boolean::New(env, reply.pinned != 0));
  result.Set("error", reply.err != 0 ? Napi::Value(Napi::String::New(env, ErrnoName(reply.err))) : env.Null());
  return result;
}

Napi::Value GuardRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kNumber, Arg::kNumber}, "guardRelease(channelFd, pid)")) return env.Undefined();
  GuardRequest request = {kGuardRelease, info[1].As<Napi::Number>().Int32Value()};
  ssize_t sent;
  do {
    sent = send(info[0].As<Napi::Number>().Int32Value(), &request, sizeof(request), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

}  // namespace sockvisor
