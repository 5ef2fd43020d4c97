// A descriptor polled for readability on libuv's loop, closed only once libuv has let go of its
// handle: closing a polled fd first could let a new fd take its number while epoll still knows
// the old one. Used by watch.cc (pidfds), folder_watch.cc (inotify) and notify.cc (datagrams).
#pragma once
#include <napi.h>
#include <uv.h>

#include <initializer_list>

namespace sockvisor {

struct PolledFd {
  uv_poll_t handle;
  int fd;
};

// Starts polling fd (handle.data = data); nullptr with the libuv error in *rc when it cannot, the
// fd then still the caller's to close.
PolledFd* StartPolling(uv_loop_t* loop, int fd, uv_poll_cb onReadable, void* data, int* rc);

// Stops polling: the fd is closed, and the memory freed, once libuv is done with the handle.
void StopPolling(PolledFd* polled);

// Calls a JS callback from a poll callback (MakeCallback: microtasks run after it). An exception it
// throws has no JS caller to reach: it goes to process 'uncaughtException' (else the process
// ends), as one thrown in a Node callback would; false then.
bool CallFromLoop(Napi::Env env, const Napi::Function& callback, const std::initializer_list<napi_value>& args);

}  // namespace sockvisor
