// See unix_address.h.
#include "unix_address.h"

#include <stddef.h>
#include <string.h>

namespace sockvisor {

socklen_t FillUnixAddress(const std::string& name, sockaddr_un* addr, bool allowAbstract) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof(addr->sun_path)) return 0;
  memcpy(addr->sun_path, name.data(), name.size());
  if (allowAbstract && name[0] == '@') {
    addr->sun_path[0] = '\0';
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  }
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
}

}  // namespace sockvisor
