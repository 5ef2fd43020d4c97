// Fallbacks for system calls (called through syscall(2): glibc has no wrapper) and flags newer than
// the build machine's headers: shared by the addon (spawn.cc, child_watch.cc) and sockvisor-guard
// (guard.cc), so system headers only.
#pragma once
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
// waitid(2) idtype for a pidfd (Linux 5.4). glibc 2.36+ declares it as an enum member, not a macro:
// <sys/wait.h> is included above so that the enum is read before this define can rename it.
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
