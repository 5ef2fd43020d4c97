// The sockaddr_un for a unix socket name, shared by socket.cc, socket_probe.cc, connect_as.cc and notify.cc.
#pragma once
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

namespace sockvisor {

// Fills addr for a path, or with allowAbstract for '@name' too (an abstract name: leading NUL, the
// length without a trailing NUL, as sd_notify(3) and uWSGI's core/notify.c compute it). Returns
// the address length to pass to bind/connect/sendto, or 0 when the name is empty or does not fit
// sun_path (107 bytes and a NUL).
socklen_t FillUnixAddress(const std::string& name, sockaddr_un* addr, bool allowAbstract = false);

}  // namespace sockvisor
