// POSIX access ACLs through the raw xattr (see acl.h): read for `doctor`, set while a socket is
// created (socket.cc). The format is little-endian on disk and over the xattr interface
// (posix_acl_xattr.h uses __le16/__le32).
#include "acl.h"

#include <endian.h>
#include <errno.h>
#include <sys/xattr.h>

#include <cstring>
#include <string>

#include "arguments.h"
#include "errors.h"
#include "exports.h"
#include "held_file.h"

namespace sockvisor {
namespace {

constexpr const char* kAccessAcl = "system.posix_acl_access";
constexpr uint32_t kVersion = 0x0002;  // POSIX_ACL_XATTR_VERSION
constexpr size_t kHeaderSize = 4;
constexpr size_t kEntrySize = 8;

std::vector<char> Encode(const std::vector<AclEntry>& entries) {
  std::vector<char> buffer(kHeaderSize + kEntrySize * entries.size());
  uint32_t version = htole32(kVersion);
  std::memcpy(buffer.data(), &version, sizeof(version));
  char* out = buffer.data() + kHeaderSize;
  for (const AclEntry& e : entries) {
    uint16_t tag = htole16(e.tag);
    uint16_t perm = htole16(e.perm);
    uint32_t id = htole32(e.id);
    std::memcpy(out, &tag, 2);
    std::memcpy(out + 2, &perm, 2);
    std::memcpy(out + 4, &id, 4);
    out += kEntrySize;
  }
  return buffer;
}

bool Decode(const char* data, size_t size, std::vector<AclEntry>* entries) {
  if (size < kHeaderSize || (size - kHeaderSize) % kEntrySize != 0) return false;
  uint32_t version;
  std::memcpy(&version, data, sizeof(version));
  if (le32toh(version) != kVersion) return false;
  for (size_t at = kHeaderSize; at < size; at += kEntrySize) {
    uint16_t tag, perm;
    uint32_t id;
    std::memcpy(&tag, data + at, 2);
    std::memcpy(&perm, data + at + 2, 2);
    std::memcpy(&id, data + at + 4, 4);
    entries->push_back({le16toh(tag), le16toh(perm), le32toh(id)});
  }
  return true;
}

}  // namespace

bool AclFromJs(Napi::Value value, std::vector<AclEntry>* entries) {
  if (!value.IsArray()) return false;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) return false;
    Napi::Object o = item.As<Napi::Object>();
    if (!o.Get("tag").IsNumber() || !o.Get("perm").IsNumber() || !o.Get("id").IsNumber()) return false;
    entries->push_back({static_cast<uint16_t>(o.Get("tag").As<Napi::Number>().Uint32Value()),
                        static_cast<uint16_t>(o.Get("perm").As<Napi::Number>().Uint32Value()),
                        o.Get("id").As<Napi::Number>().Uint32Value()});
  }
  return true;
}

int SetAccessAcl(int opath, const std::vector<AclEntry>& entries) {
  std::vector<char> value = Encode(entries);
  return setxattr(ProcPath(opath).c_str(), kAccessAcl, value.data(), value.size(), 0);
}

int RemoveAccessAcl(int opath) {
  return removexattr(ProcPath(opath).c_str(), kAccessAcl);
}

Napi::Value ReadAcl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasArgs(info, {Arg::kString}, "readAcl(path)")) return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<char> buffer(kHeaderSize + kEntrySize * 32);
  ssize_t size;
  for (;;) {
    size = getxattr(path.c_str(), kAccessAcl, buffer.data(), buffer.size());
    if (size >= 0 || errno != ERANGE) break;
    // Grown since we asked: ask for the size, then read again.
    ssize_t needed = getxattr(path.c_str(), kAccessAcl, nullptr, 0);
    if (needed < 0) break;
    buffer.resize(static_cast<size_t>(needed) + kEntrySize);
  }
  if (size < 0) {
    // ENODATA: no ACL beyond the mode bits (posix_acl_equiv_mode entries are not stored).
    if (errno == ENODATA) return env.Null();
    ThrowSystemError(env, errno, "getxattr", path);
    return env.Undefined();
  }
  std::vector<AclEntry> entries;
  if (!Decode(buffer.data(), static_cast<size_t>(size), &entries)) {
    ThrowSystemError(env, EINVAL, "getxattr", path);
    return env.Undefined();
  }
  Napi::Array result = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("tag", Napi::Number::New(env, entries[i].tag));
    entry.Set("perm", Napi::Number::New(env, entries[i].perm));
    entry.Set("id", Napi::Number::New(env, entries[i].id));
    result.Set(static_cast<uint32_t>(i), entry);
  }
  return result;
}

}  // namespace sockvisor
