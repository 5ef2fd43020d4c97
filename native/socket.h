#pragma once
#include <napi.h>

namespace sockvisor {
// createUnixSocket({ path, uid, gid, mode, backlog, acl?, keepPathFd?, dirFd?, name? }) -> { fd, dev, ino, pathFd? };
// with dirFd and name (the folder of path as a descriptor, and the last component of path) the
// bound file is found and checked there, never through the path again (see socket.cc);
// with acl (entries as in acl.h) the ACL sets the mode instead of chmod; with keepPathFd the
// O_PATH descriptor of the new file is returned too (close-on-exec), for held_file.h
Napi::Value CreateUnixSocket(const Napi::CallbackInfo& info);
// probeUnixSocket(path) -> null when something accepts connections there, else the errno code string
Napi::Value ProbeUnixSocket(const Napi::CallbackInfo& info);
// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info);
}  // namespace sockvisor
