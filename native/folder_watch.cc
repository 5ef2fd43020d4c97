// One inotify instance per watched folder, polled on libuv's loop (see folder_watch.h).
#include "folder_watch.h"

#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errors.h"
#include "polled_fd.h"

namespace sockvisor {
namespace {

// No IN_MODIFY (writes), IN_ACCESS, IN_OPEN or IN_CLOSE_*: nothing a socket file goes through.
// IN_ATTRIB also reports link count changes (an rm of another name of the same file).
constexpr uint32_t kMask = IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                           IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

Napi::Function FolderWatch::Define(Napi::Env env) {
  return DefineClass(env, "FolderWatch",
                     {InstanceMethod("close", &FolderWatch::Close), InstanceMethod("pause", &FolderWatch::Pause),
                      InstanceMethod("resume", &FolderWatch::Resume)});
}

FolderWatch::FolderWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FolderWatch>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
    ThrowTypeError(env, "new FolderWatch(path, onChange)");
    return;
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    ThrowSystemError(env, errno, "inotify_init1", path);
    return;
  }
  if (inotify_add_watch(fd, path.c_str(), kMask) < 0) {
    int err = errno;
    close(fd);
    ThrowSystemError(env, err, "inotify_add_watch", path);
    return;
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int rc;
  poll_ = StartPolling(loop, fd, &FolderWatch::OnReadable, this, &rc);
  if (poll_ == nullptr) {
    close(fd);
    ThrowSystemError(env, -rc, "uv_poll_start", path);
    return;
  }
  // Unreferenced: a watch alone does not keep sockvisor running (its children do).
  uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
  onChange_ = Napi::Persistent(info[1].As<Napi::Function>());
  // Kept alive while open, even if JS drops every reference: close() releases it.
  self_ = Napi::Persistent(Value());
}

// Nothing to free here: while it watches, self_ keeps the object alive; close() frees the rest.
FolderWatch::~FolderWatch() = default;

void FolderWatch::OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  FolderWatch* self = static_cast<FolderWatch*>(handle->data);
  if (status < 0) return;
  self->Drain();
}

// Reads every queued event (the descriptor is non-blocking), then calls back once with the names.
void FolderWatch::Drain() {
  std::vector<std::string> names;
  bool folder = false;
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    ssize_t n = read(poll_->fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: drained
    for (char* at = buffer; at < buffer + n;) {
      const inotify_event* e = reinterpret_cast<const inotify_event*>(at);
      // No name: the folder itself (removed, renamed, its attributes) or IN_Q_OVERFLOW / IN_IGNORED.
      if (e->len > 0) {
        names.emplace_back(e->name);
      } else {
        folder = true;
      }
      at += sizeof(inotify_event) + e->len;
    }
  }
  if (names.empty() && !folder) return;
  Napi::Env env = onChange_.Env();
  Napi::HandleScope scope(env);
  // Keeps this object alive through the callback, which may close() it and drop the last reference.
  Napi::Object keep = Value();
  (void)keep;
  Napi::Array list = Napi::Array::New(env, names.size() + (folder ? 1 : 0));
  for (size_t i = 0; i < names.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  if (folder) list.Set(static_cast<uint32_t>(names.size()), env.Null());
  CallFromLoop(env, onChange_.Value(), {list});
}

void FolderWatch::Release() {
  if (poll_ != nullptr) {
    StopPolling(poll_);
    poll_ = nullptr;
  }
  onChange_.Reset();
  self_.Reset();
}

Napi::Value FolderWatch::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

// The kernel keeps queueing (and merging identical) events while the descriptor is not polled: a
// storm of them costs nothing until resume(), then one read.
Napi::Value FolderWatch::Pause(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_poll_stop(&poll_->handle);
  return info.Env().Undefined();
}

Napi::Value FolderWatch::Resume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (poll_ == nullptr) return env.Undefined();
  // Unreferenced still: uv_unref is a flag of the handle, kept across stop and start.
  int rc = uv_poll_start(&poll_->handle, UV_READABLE, &FolderWatch::OnReadable);
  if (rc != 0) ThrowSystemError(env, -rc, "uv_poll_start");
  return env.Undefined();
}

}  // namespace sockvisor
