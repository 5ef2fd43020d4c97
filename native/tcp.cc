// Listening TCP sockets (IPv4 and IPv6) on a numeric address: names are resolved in TypeScript,
// never here, so this file makes system calls only.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "arguments.h"
#include "errors.h"
#include "exports.h"

namespace sockvisor {

Napi::Value CreateTcpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "createTcpSocket({ family: 4 | 6, address: string, port: number, backlog: number })";
  if (!HasArgs(info, {Arg::kObject}, usage)) return env.Undefined();
  Napi::Object spec = info[0].As<Napi::Object>();
  if (!HasFields(spec, {{"family", Arg::kNumber}, {"address", Arg::kString}, {"port", Arg::kNumber}, {"backlog", Arg::kNumber}}, usage)) {
    return env.Undefined();
  }
  int family = spec.Get("family").As<Napi::Number>().Int32Value();
  std::string address = spec.Get("address").As<Napi::String>().Utf8Value();
  int port = spec.Get("port").As<Napi::Number>().Int32Value();
  int backlog = spec.Get("backlog").As<Napi::Number>().Int32Value();

  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  socklen_t length;
  if (family == 4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &in->sin_addr) != 1) {
      ThrowNetworkError(env, EINVAL, "inet_pton", address, port);
      return env.Undefined();
    }
    length = sizeof(sockaddr_in);
  } else if (family == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) != 1) {
      ThrowNetworkError(env, EINVAL, "inet_pton", address, port);
      return env.Undefined();
    }
    length = sizeof(sockaddr_in6);
  } else {
    ThrowTypeError(env, "createTcpSocket: family must be 4 or 6");
    return env.Undefined();
  }

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowNetworkError(env, errno, "socket", address, port);
    return env.Undefined();
  }
  int on = 1;
  const char* failed = nullptr;
  // SO_REUSEADDR: listening again on a port whose old connections are in TIME_WAIT (a restart of
  // sockvisor) works at once, as with nginx and uWSGI. It does not let two listeners share a port.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    failed = "setsockopt";
    // IPV6_V6ONLY, as nginx does by default: [::]:80 and 0.0.0.0:80 can then be held side by side,
    // whatever net.ipv6.bindv6only says.
  } else if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
    failed = "setsockopt";
  } else if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    failed = "bind";
  } else if (listen(fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    ThrowNetworkError(env, err, failed, address, port);
    return env.Undefined();
  }

  // The port the kernel chose when port 0 was asked for.
  sockaddr_storage bound;
  socklen_t boundLength = sizeof(bound);
  int boundPort = port;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &boundLength) == 0) {
    boundPort = bound.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                           : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("port", Napi::Number::New(env, boundPort));
  return result;
}

}  // namespace sockvisor
