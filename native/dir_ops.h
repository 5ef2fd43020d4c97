// Folders handled through descriptors, never by name after a check: a user who may write a folder
// above can swap a symlink in between a check by name and an action by name, and a root process
// acting by name would then chmod or link whatever the symlink leads to. Each call here acts on one
// name inside a folder descriptor (the *at system calls) and never follows a symlink at that name.
// Which folders, which mode, and which symlinks of the user's own layout may be followed (read
// with readLinkAt and walked again by the caller) is decided in TypeScript (socket/folder.ts).
#pragma once
#include <napi.h>

namespace sockvisor {

// openFolder(dirFd | null, name) -> fd: openat(dirFd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
// O_CLOEXEC); null dirFd opens an absolute name. A symlink or a file at name gives ENOTDIR.
Napi::Value OpenFolder(const Napi::CallbackInfo& info);

// readLinkAt(dirFd, name) -> string: readlinkat; EINVAL when name is not a symlink.
Napi::Value ReadLinkAt(const Napi::CallbackInfo& info);

// makeFolder(dirFd, name, mode) -> { fd, dev, ino }: mkdirat(dirFd, name, 0), then the new folder
// opened without following (O_PATH | O_NOFOLLOW | O_DIRECTORY), checked to be a directory owned by
// the effective uid with mode 0000 (the one just made: no other folder looks like that), and only
// then given `mode` through that descriptor. Throws EEXIST (syscall "mkdirat") when the name no
// longer holds the folder just made (someone moved it and put something else there): that folder
// is left where it went, and nothing is changed.
Napi::Value MakeFolder(const Napi::CallbackInfo& info);

// removeIfSame(dirFd, name, dev, ino, folder) -> boolean: fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW)
// and, only when it is a socket (folder false) or a directory (folder true) with that device and
// inode, unlinkat(dirFd, name, folder ? AT_REMOVEDIR : 0). false when missing or another file;
// throws other errors (ENOTEMPTY for a folder someone put files in).
Napi::Value RemoveIfSame(const Napi::CallbackInfo& info);

}  // namespace sockvisor
