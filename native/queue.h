#pragma once
#include <napi.h>

namespace sockvisor {
// unixListenQueue(fd) -> { queued, backlog }: the connections waiting in a listening unix socket's
// accept queue, and the backlog it listens with, as the kernel's sock_diag reports them (what
// `ss -xl` shows as Recv-Q and Send-Q). Throws a system error (fstat, socket, sendmsg, recv,
// sock_diag) otherwise; EINVAL when fd is not a listening socket.
Napi::Value UnixListenQueue(const Napi::CallbackInfo& info);
}  // namespace sockvisor
