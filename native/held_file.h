// A socket file sockvisor holds by an O_PATH descriptor of its inode (kept from the moment it was
// bound): its mode, owner and ACL are repaired, and its name linked back, through that descriptor,
// never through a path that someone could have swapped for a symlink in between.
#pragma once
#include <sys/types.h>

#include <string>

namespace sockvisor {

// "/proc/self/fd/N": the way to a descriptor's inode for the calls that refuse an O_PATH fd
// (chmod, setxattr, linkat...) but follow that magic link.
std::string ProcPath(int fd);

// chmod through an O_PATH fd: fchmod() gives EBADF there and glibc's fchmodat(AT_EMPTY_PATH) gives
// EINVAL; fchmodat2 (Linux 6.6) works, and /proc/self/fd/N works on older kernels. 0, or -1 + errno.
int ChmodOpath(int opath, mode_t mode);

}  // namespace sockvisor
