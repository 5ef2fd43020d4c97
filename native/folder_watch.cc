// An inotify watch on one folder, on libuv's loop, for what can happen to a socket file in it:
// Node's fs.watch cannot choose the events, and includes IN_MODIFY, so every write to any file in
// the folder (a log next to the socket) would wake sockvisor.
#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "arguments.h"
#include "errors.h"
#include "exports.h"
#include "polled_object.h"

namespace sockvisor {
namespace {

// No IN_MODIFY (writes), IN_ACCESS, IN_OPEN or IN_CLOSE_*: nothing a socket file goes through.
// IN_ATTRIB also reports link count changes (an rm of another name of the same file).
constexpr uint32_t kMask = IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                           IN_MOVE_SELF | IN_ONLYDIR;

// One inotify instance per watched folder (see exports.h for what JS sees).
class FolderWatch : public PolledObject<FolderWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FolderWatch",
                       {InstanceMethod("close", &FolderWatch::Close), InstanceMethod("pause", &FolderWatch::Pause),
                        InstanceMethod("resume", &FolderWatch::Resume)});
  }

  explicit FolderWatch(const Napi::CallbackInfo& info) : PolledObject<FolderWatch>(info) {
    Napi::Env env = info.Env();
    if (!HasArgs(info, {Arg::kString, Arg::kFunction}, "new FolderWatch(path, onChange)")) return;
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
    // A watch alone does not keep sockvisor running (its children do); close() releases it.
    Start(env, fd, info[1].As<Napi::Function>(), /*keepLoopAlive=*/false, path);
  }

 private:
  // Reads every queued event (the descriptor is non-blocking), then calls back once with the names.
  void OnReadable() override {
    std::vector<std::string> names;
    bool folder = false;
    alignas(inotify_event) char buffer[16 * 1024];
    for (;;) {
      ssize_t n = read(fd(), buffer, sizeof(buffer));
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
    Napi::Env env = Env();
    Napi::Array list = Napi::Array::New(env, names.size() + (folder ? 1 : 0));
    for (size_t i = 0; i < names.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
    if (folder) list.Set(static_cast<uint32_t>(names.size()), env.Null());
    Call({list});
  }
};

}  // namespace

Napi::Function DefineFolderWatch(Napi::Env env) { return FolderWatch::Define(env); }

}  // namespace sockvisor
