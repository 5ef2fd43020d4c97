// The sd_notify(3) datagram protocol in both directions: a receiver that sockvisor gives each child
// as its NOTIFY_SOCKET, and one-shot sends to the NOTIFY_SOCKET systemd gave sockvisor. Node's dgram
// has no AF_UNIX, hence this file.
//
// The receiver turns on SO_PASSCRED, so every datagram carries the sender's pid/uid/gid as the
// kernel saw them (unix(7), SCM_CREDENTIALS): a sender cannot lie about its pid without
// CAP_SYS_ADMIN. TypeScript decides whom to believe; here we only add the sender's process group.
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "arguments.h"
#include "errors.h"
#include "exports.h"
#include "polled_object.h"
#include "unix_address.h"

namespace sockvisor {
namespace {

// systemd's own limit for one notification (NOTIFY_BUFFER_MAX in src/core/manager.c is 4096 + 1).
constexpr size_t kMaxMessage = 4096;

// The receiving end of a NOTIFY_SOCKET (see exports.h for what JS sees).
class NotifyReceiver : public PolledObject<NotifyReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NotifyReceiver", {InstanceMethod("close", &NotifyReceiver::Close)});
  }

  explicit NotifyReceiver(const Napi::CallbackInfo& info) : PolledObject<NotifyReceiver>(info) {
    Napi::Env env = info.Env();
    if (!HasArgs(info, {Arg::kString, Arg::kFunction}, "new NotifyReceiver(address, onMessage)")) return;
    std::string address = info[0].As<Napi::String>().Utf8Value();
    sockaddr_un addr;
    socklen_t len = FillUnixAddress(address, &addr, /*allowAbstract=*/true);
    if (len == 0) {
      ThrowSystemError(env, ENAMETOOLONG, "bind", address);
      return;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      ThrowSystemError(env, errno, "socket");
      return;
    }
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
      int err = errno;
      close(fd);
      ThrowSystemError(env, err, "setsockopt");
      return;
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      int err = errno;
      close(fd);
      ThrowSystemError(env, err, "bind", address);
      return;
    }
    // Kept alive while open, even if JS drops every reference: close() releases it.
    Start(env, fd, info[1].As<Napi::Function>(), /*keepLoopAlive=*/true);
  }

 private:
  // Reads every queued datagram (the socket is non-blocking) and hands each to JS.
  void OnReadable() override {
    Napi::Env env = Env();
    while (polling()) {  // a callback may close() the receiver
      char buffer[kMaxMessage];
      // Room for credentials and a few passed fds (FDSTORE=1 senders), which we close unread.
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 16)];
      iovec iov = {buffer, sizeof(buffer)};
      msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = recvmsg(fd(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: drained
      }
      ucred cred = {0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
      bool haveCred = false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
          memcpy(&cred, CMSG_DATA(c), sizeof(ucred));
          haveCred = true;
        } else if (c->cmsg_type == SCM_RIGHTS) {
          size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (size_t i = 0; i < count; i++) {
            int passed;
            memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(passed);
          }
        }
      }
      // The sender's group now; -1 when it has already exited (its message cannot be attributed).
      pid_t pgid = haveCred && cred.pid > 0 ? getpgid(cred.pid) : -1;

      Napi::HandleScope scope(env);
      Napi::Object message = Napi::Object::New(env);
      message.Set("text", Napi::String::New(env, buffer, static_cast<size_t>(n)));
      message.Set("pid", Napi::Number::New(env, haveCred ? cred.pid : -1));
      message.Set("uid", Napi::Number::New(env, haveCred ? static_cast<double>(cred.uid) : -1));
      message.Set("gid", Napi::Number::New(env, haveCred ? static_cast<double>(cred.gid) : -1));
      message.Set("pgid", Napi::Number::New(env, pgid));
      message.Set("truncated", Napi::Boolean::New(env, (msg.msg_flags & MSG_TRUNC) != 0));
      if (!Call({message})) return;
    }
  }
};

}  // namespace

Napi::Function DefineNotifyReceiver(Napi::Env env) { return NotifyReceiver::Define(env); }

Napi::Value SendNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kString, Arg::kString}, "sendNotify(address, text)")) return env.Undefined();
  std::string address = info[0].As<Napi::String>().Utf8Value();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  sockaddr_un addr;
  socklen_t len = FillUnixAddress(address, &addr, /*allowAbstract=*/true);
  if (len == 0) return Napi::String::New(env, ErrnoName(ENAMETOOLONG));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::String::New(env, ErrnoName(errno));
  ssize_t sent;
  do {
    sent = sendto(fd, text.data(), text.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (sent < 0) return Napi::String::New(env, ErrnoName(err));
  return env.Null();
}

}  // namespace sockvisor
