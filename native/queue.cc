// How full a held unix socket's accept queue is. Linux has no per-socket call for it (SIOCINQ on a
// listener is 0, /proc/net/unix has no queue column): sock_diag (NETLINK_SOCK_DIAG) answers for
// one socket looked up by its sockfs inode, which fstat() of the held descriptor gives. One request,
// one answer; no privilege needed.
#include <napi.h>

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "errors.h"
#include "exports.h"

namespace sockvisor {
namespace {

// sock_diag's "no cookie": the lookup is by inode alone.
constexpr unsigned kNoCookie = ~0U;

struct Request {
  nlmsghdr header;
  unix_diag_req body;
};

struct QueueFigures {
  unsigned queued;
  unsigned backlog;
};

// errno on failure (with *syscall set), 0 with out filled.
int QueryByInode(ino_t ino, QueueFigures* out, const char** syscall) {
  int sock = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (sock < 0) {
    *syscall = "socket";
    return errno;
  }
  Request request;
  std::memset(&request, 0, sizeof(request));
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  // No NLM_F_DUMP: the kernel's exact lookup of one inode (unix_diag_get_exact).
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.body.sdiag_family = AF_UNIX;
  request.body.udiag_states = ~0U;
  request.body.udiag_ino = static_cast<unsigned>(ino);
  request.body.udiag_show = UDIAG_SHOW_RQLEN;
  request.body.udiag_cookie[0] = kNoCookie;
  request.body.udiag_cookie[1] = kNoCookie;
  sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if (sendto(sock, &request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    int err = errno;
    close(sock);
    *syscall = "sendto";
    return err;
  }
  alignas(nlmsghdr) char buffer[8192];
  ssize_t n;
  do {
    n = recv(sock, buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  close(sock);
  *syscall = "recv";
  if (err != 0) return err;
  *syscall = "sock_diag";
  int len = static_cast<int>(n);
  for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
      return e->error < 0 ? -e->error : EPROTO;
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    auto* msg = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
    if (msg->udiag_state != TCP_LISTEN) return EINVAL;
    int attrLen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
    for (rtattr* a = reinterpret_cast<rtattr*>(msg + 1); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
      if (a->rta_type != UNIX_DIAG_RQLEN || RTA_PAYLOAD(a) < sizeof(unix_diag_rqlen)) continue;
      // For a listener the kernel reports the accept queue's length and sk_max_ack_backlog.
      auto* rq = static_cast<unix_diag_rqlen*>(RTA_DATA(a));
      out->queued = rq->udiag_rqueue;
      out->backlog = rq->udiag_wqueue;
      return 0;
    }
    return EPROTO;
  }
  return EPROTO;
}

}  // namespace

Napi::Value UnixListenQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(env, "unixListenQueue(fd)");
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ThrowSystemError(env, errno, "fstat");
    return env.Undefined();
  }
  if (!S_ISSOCK(st.st_mode)) {
    ThrowSystemError(env, ENOTSOCK, "fstat");
    return env.Undefined();
  }
  QueueFigures figures{0, 0};
  const char* syscall = "";
  int err = QueryByInode(st.st_ino, &figures, &syscall);
  if (err != 0) {
    ThrowSystemError(env, err, syscall);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("queued", Napi::Number::New(env, figures.queued));
  result.Set("backlog", Napi::Number::New(env, figures.backlog));
  return result;
}

}  // namespace sockvisor
