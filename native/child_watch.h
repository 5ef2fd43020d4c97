// Which pids a ChildWatch (child_watch.cc) owns: orphans are reaped by pid (reaper.cc), never these.
#pragma once
#include <sys/types.h>

namespace sockvisor {

// Whether a live ChildWatch owns pid (reaper.cc reaps only the others). JS thread only.
bool IsWatchedChild(pid_t pid);

}  // namespace sockvisor
