#pragma once
#include <napi.h>
#include <uv.h>

#include "polled_fd.h"

namespace sockvisor {

// The receiving end of a NOTIFY_SOCKET (sd_notify(3) protocol): a unix datagram socket polled on
// libuv's loop. new NotifyReceiver(address, onMessage): address is '@name' (abstract) or a path;
// onMessage({ text, pid, uid, gid, pgid, truncated }) gets each datagram with the sender's
// credentials as the kernel reports them (SO_PASSCRED), and its process group (getpgid) at receipt.
class NotifyReceiver : public Napi::ObjectWrap<NotifyReceiver> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NotifyReceiver(const Napi::CallbackInfo& info);
  ~NotifyReceiver() override;

 private:
  // close(): stops polling and closes the socket; idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  void Drain();
  void Release();

  // the socket (poll_->fd) while open
  PolledFd* poll_ = nullptr;
  Napi::FunctionReference onMessage_;
  Napi::ObjectReference self_;
};

// sendNotify(address, text) -> null, or the errno code: one datagram to a NOTIFY_SOCKET
// ('@name' abstract or a path), as sd_notify(3) sends it.
Napi::Value SendNotify(const Napi::CallbackInfo& info);

}  // namespace sockvisor
