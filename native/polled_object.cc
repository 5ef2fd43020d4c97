// The libuv side of polled_object.h.
#include "polled_object.h"

#include <unistd.h>

namespace sockvisor {

PolledFd* StartPolling(uv_loop_t* loop, int fd, uv_poll_cb onReadable, void* data, int* rc) {
  PolledFd* polled = new PolledFd{{}, fd};
  *rc = uv_poll_init(loop, &polled->handle, fd);
  if (*rc != 0) {
    delete polled;
    return nullptr;
  }
  polled->handle.data = data;
  *rc = uv_poll_start(&polled->handle, UV_READABLE, onReadable);
  if (*rc != 0) {
    // Registered with the loop by uv_poll_init: freed through it, the fd left to the caller.
    uv_close(reinterpret_cast<uv_handle_t*>(&polled->handle), [](uv_handle_t* h) { delete reinterpret_cast<PolledFd*>(h); });
    return nullptr;
  }
  return polled;
}

bool CallFromLoop(Napi::Env env, const Napi::Function& callback, const std::initializer_list<napi_value>& args) {
  callback.MakeCallback(env.Global(), args);
  if (!env.IsExceptionPending()) return true;
  Napi::Error error = env.GetAndClearPendingException();
  napi_fatal_exception(env, error.Value());
  return false;
}

void StopPolling(PolledFd* polled) {
  uv_poll_stop(&polled->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&polled->handle), [](uv_handle_t* h) {
    PolledFd* p = reinterpret_cast<PolledFd*>(h);
    close(p->fd);
    delete p;
  });
}

}  // namespace sockvisor
