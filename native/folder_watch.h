// An inotify watch on one folder, on libuv's loop, for what can happen to a socket file in it:
// Node's fs.watch cannot choose the events, and includes IN_MODIFY, so every write to any file in
// the folder (a log next to the socket) would wake sockvisor.
#pragma once
#include <napi.h>
#include <uv.h>

#include "polled_fd.h"

namespace sockvisor {

// new FolderWatch(path, onChange): watches the folder `path` (following a symlink to it, as
// connect() would) for entries created, removed, renamed or given new attributes (chmod, chown,
// setxattr, link count), and for the folder itself being removed or renamed. onChange(names) is
// called once per wakeup with the entry names read (null for the folder itself, or for events lost
// to a queue overflow: look at everything). Throws ENOENT, ENOTDIR, EACCES, ENOSPC (the user's
// fs.inotify.max_user_watches) or EMFILE (max_user_instances) like Node's errors.
class FolderWatch : public Napi::ObjectWrap<FolderWatch> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FolderWatch(const Napi::CallbackInfo& info);
  ~FolderWatch() override;

 private:
  // close(): stops watching and closes the inotify descriptor; idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info);
  // pause(): stops reading events (they wait in the kernel's queue); resume(): reads them again.
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  void Drain();
  void Release();

  // the inotify descriptor (poll_->fd) while open
  PolledFd* poll_ = nullptr;
  Napi::FunctionReference onChange_;
  Napi::ObjectReference self_;
};

}  // namespace sockvisor
