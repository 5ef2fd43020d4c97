// The lifecycle every poll-driven object of the addon shares: ChildWatch (a pidfd), NotifyReceiver
// (a datagram socket) and FolderWatch (an inotify descriptor). The base owns the descriptor, polls
// it for readability on libuv's loop, keeps the JS object alive while it polls (even when JS drops
// every reference), calls back into JS from the loop, and closes the descriptor only once libuv
// has let go of its handle: closing a polled fd first could let a new fd take its number while
// epoll still knows the old one. Each class keeps only its mechanism: OnReadable().
#pragma once
#include <napi.h>
#include <unistd.h>
#include <uv.h>

#include <initializer_list>
#include <string>

#include "errors.h"

namespace sockvisor {

// The libuv side (polled_object.cc), the same for every class.
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

template <typename T>
class PolledObject : public Napi::ObjectWrap<T> {
 protected:
  explicit PolledObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

  // Runs on the loop when the descriptor is readable, in a handle scope, with the object kept
  // alive throughout (a callback may stop it and drop the last reference).
  virtual void OnReadable() = 0;

  // Starts polling fd, which the object owns from here on (closed here when polling cannot
  // start), with `callback` as its JS side. keepLoopAlive: whether the poll alone keeps the process
  // running. False with a JS exception pending when libuv refuses.
  bool Start(Napi::Env env, int fd, Napi::Function callback, bool keepLoopAlive, const std::string& path = "") {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int rc = 0;
    poll_ = StartPolling(loop, fd, &PolledObject::OnPoll, this, &rc);
    if (poll_ == nullptr) {
      close(fd);
      ThrowSystemError(env, -rc, "uv_poll_start", path);
      return false;
    }
    if (!keepLoopAlive) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
    callback_ = Napi::Persistent(callback);
    self_ = Napi::Persistent(this->Value());
    return true;
  }

  // Stops polling and lets the object be collected; the descriptor closes now (with the poll
  // handle), not when the garbage collector gets to the object. Idempotent.
  void Stop() {
    if (poll_ != nullptr) {
      StopPolling(poll_);
      poll_ = nullptr;
    }
    callback_.Reset();
    self_.Reset();
  }

  bool polling() const { return poll_ != nullptr; }
  // the descriptor while polling, else -1
  int fd() const { return poll_ != nullptr ? poll_->fd : -1; }

  // Calls the JS callback; false when stopped, or when it threw (then handed to 'uncaughtException').
  bool Call(const std::initializer_list<napi_value>& args) {
    if (poll_ == nullptr) return false;
    return CallFromLoop(callback_.Env(), callback_.Value(), args);
  }

  // Stops, then calls the JS callback a last time: for an object whose event is its end (an exit).
  void CallLast(const std::initializer_list<napi_value>& args) {
    if (poll_ == nullptr) return;
    Napi::Env env = callback_.Env();
    Napi::Function callback = callback_.Value();
    Stop();
    CallFromLoop(env, callback, args);
  }

  // pause(): stops reading (events wait in the kernel's queue, which merges identical ones, so a
  // storm of them costs nothing until resume()); resume(): reads again, then one read for all.
  // The keep-alive flag (uv_unref) is a property of the handle, kept across stop and start.
  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_poll_stop(&poll_->handle);
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (poll_ == nullptr) return env.Undefined();
    int rc = uv_poll_start(&poll_->handle, UV_READABLE, &PolledObject::OnPoll);
    if (rc != 0) ThrowSystemError(env, -rc, "uv_poll_start");
    return env.Undefined();
  }

  // close(): the JS method of the classes that JS stops itself.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
    PolledObject* self = static_cast<PolledObject*>(handle->data);
    // UV_EBADF: libuv saw POLLERR and stops polling; whatever can still be read is read now.
    if (status < 0 && status != UV_EBADF) return;
    Napi::HandleScope scope(self->Env());
    Napi::Object keep = self->Value();
    (void)keep;
    self->OnReadable();
  }

  PolledFd* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
};

}  // namespace sockvisor
