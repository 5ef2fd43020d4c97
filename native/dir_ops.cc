// Folders handled through descriptors, never by name after a check: a user who may write a folder
// above can swap a symlink in between a check by name and an action by name, and a root process
// acting by name would then chmod or link whatever the symlink leads to. Each call here acts on one
// name inside a folder descriptor (the *at system calls) and never follows a symlink at that name.
// Which folders, which mode, and which symlinks of the user's own layout may be followed (read
// with readLinkAt and walked again by the caller) is decided in TypeScript (socket/folder.ts).
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "errors.h"
#include "exports.h"
#include "held_file.h"

namespace sockvisor {
namespace {

constexpr int kFolderFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// (dirFd, name, ...): false (a TypeError thrown) when malformed. A null dirFd means AT_FDCWD.
bool ReadFolderAndName(const Napi::CallbackInfo& info, const char* usage, bool allowNull, int* dirFd, std::string* name) {
  if (info.Length() < 2 || !(info[0].IsNumber() || (allowNull && info[0].IsNull())) || !info[1].IsString()) {
    ThrowTypeError(info.Env(), usage);
    return false;
  }
  *dirFd = info[0].IsNull() ? AT_FDCWD : info[0].As<Napi::Number>().Int32Value();
  *name = info[1].As<Napi::String>().Utf8Value();
  return true;
}

bool ReadUint64(Napi::Value value, uint64_t* out) {
  bool lossless = true;
  if (value.IsBigInt()) {
    *out = value.As<Napi::BigInt>().Uint64Value(&lossless);
    return lossless;
  }
  if (!value.IsNumber()) return false;
  *out = static_cast<uint64_t>(value.As<Napi::Number>().Int64Value());
  return true;
}

}  // namespace

Napi::Value OpenFolder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirFd;
  std::string name;
  if (!ReadFolderAndName(info, "openFolder expects (dirFd | null, name)", true, &dirFd, &name)) return env.Undefined();
  int fd = openat(dirFd, name.c_str(), kFolderFlags);
  if (fd < 0) {
    ThrowSystemError(env, errno, "openat", name);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ReadLinkAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirFd;
  std::string name;
  if (!ReadFolderAndName(info, "readLinkAt expects (dirFd, name)", false, &dirFd, &name)) return env.Undefined();
  char target[PATH_MAX];
  ssize_t n = readlinkat(dirFd, name.c_str(), target, sizeof(target));
  if (n < 0) {
    ThrowSystemError(env, errno, "readlinkat", name);
    return env.Undefined();
  }
  if (static_cast<size_t>(n) >= sizeof(target)) {
    ThrowSystemError(env, ENAMETOOLONG, "readlinkat", name);
    return env.Undefined();
  }
  return Napi::String::New(env, target, static_cast<size_t>(n));
}

Napi::Value MakeFolder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirFd;
  std::string name;
  if (!ReadFolderAndName(info, "makeFolder expects (dirFd, name, mode)", false, &dirFd, &name) || !info[2].IsNumber()) {
    if (!env.IsExceptionPending()) ThrowTypeError(env, "makeFolder expects (dirFd, name, mode)");
    return env.Undefined();
  }
  mode_t mode = info[2].As<Napi::Number>().Uint32Value() & 07777;
  // Born 0000: nobody else can use it before its mode is set, and it can be told from any other
  // folder when it is opened again below (a folder sockvisor made earlier is 0755).
  if (mkdirat(dirFd, name.c_str(), 0) != 0) {
    ThrowSystemError(env, errno, "mkdirat", name);
    return env.Undefined();
  }
  int fd = openat(dirFd, name.c_str(), kFolderFlags);
  if (fd < 0) {
    // ENOTDIR: a symlink or a file took its name; ENOENT: it was moved away. Either way not ours.
    ThrowSystemError(env, errno == ENOTDIR || errno == ENOENT ? EEXIST : errno, "mkdirat", name);
    return env.Undefined();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    ThrowSystemError(env, err, "fstat", name);
    return env.Undefined();
  }
  // S_ISGID may be inherited from a setgid parent: the permission bits are what tells.
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0777) != 0) {
    close(fd);
    ThrowSystemError(env, EEXIST, "mkdirat", name);
    return env.Undefined();
  }
  if (ChmodOpath(fd, mode) != 0) {
    int err = errno;
    close(fd);
    ThrowSystemError(env, err, "chmod", name);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("dev", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_dev)));
  result.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  return result;
}

Napi::Value RemoveIfSame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "removeIfSame expects (dirFd, name, dev, ino, folder)";
  int dirFd;
  std::string name;
  uint64_t dev;
  uint64_t ino;
  if (!ReadFolderAndName(info, usage, false, &dirFd, &name)) return env.Undefined();
  if (info.Length() < 5 || !ReadUint64(info[2], &dev) || !ReadUint64(info[3], &ino) || !info[4].IsBoolean()) {
    ThrowTypeError(env, usage);
    return env.Undefined();
  }
  bool folder = info[4].As<Napi::Boolean>().Value();
  struct stat st;
  if (fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    ThrowSystemError(env, errno, "fstatat", name);
    return env.Undefined();
  }
  bool kind = folder ? S_ISDIR(st.st_mode) : S_ISSOCK(st.st_mode);
  if (!kind || static_cast<uint64_t>(st.st_dev) != dev || static_cast<uint64_t>(st.st_ino) != ino) {
    return Napi::Boolean::New(env, false);
  }
  // Still two calls: a file moved into this folder in between by someone who may write it would be
  // removed instead. The folder is the one checked, so it is a name in that folder, never elsewhere.
  if (unlinkat(dirFd, name.c_str(), folder ? AT_REMOVEDIR : 0) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    ThrowSystemError(env, errno, "unlinkat", name);
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace sockvisor
