// The export table: glue only, one line per export. Each mechanism lives in its own file; their
// exports are declared, with the JavaScript call each answers, in exports.h.
#include <napi.h>

#include "exports.h"

namespace sockvisor {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("createUnixSocket", Napi::Function::New(env, CreateUnixSocket));
  exports.Set("createTcpSocket", Napi::Function::New(env, CreateTcpSocket));
  exports.Set("probeUnixSocket", Napi::Function::New(env, ProbeUnixSocket));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("linkHeldFile", Napi::Function::New(env, LinkHeldFile));
  exports.Set("changeHeldFile", Napi::Function::New(env, ChangeHeldFile));
  exports.Set("openFolder", Napi::Function::New(env, OpenFolder));
  exports.Set("readLinkAt", Napi::Function::New(env, ReadLinkAt));
  exports.Set("makeFolder", Napi::Function::New(env, MakeFolder));
  exports.Set("removeIfSame", Napi::Function::New(env, RemoveIfSame));
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("ChildWatch", DefineChildWatch(env));
  exports.Set("NotifyReceiver", DefineNotifyReceiver(env));
  exports.Set("FolderWatch", DefineFolderWatch(env));
  exports.Set("sendNotify", Napi::Function::New(env, SendNotify));
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser));
  exports.Set("usersWithPrimaryGroup", Napi::Function::New(env, UsersWithPrimaryGroup));
  exports.Set("lookupGroup", Napi::Function::New(env, LookupGroup));
  exports.Set("groupList", Napi::Function::New(env, GroupList));
  exports.Set("readAcl", Napi::Function::New(env, ReadAcl));
  exports.Set("connectAs", Napi::Function::New(env, ConnectAs));
  exports.Set("isWatchedChild", Napi::Function::New(env, IsWatchedChildJs));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  exports.Set("reapOrphan", Napi::Function::New(env, ReapOrphan));
  exports.Set("signalOrphan", Napi::Function::New(env, SignalOrphan));
  exports.Set("openGuardChannel", Napi::Function::New(env, OpenGuardChannel));
  exports.Set("guardProtect", Napi::Function::New(env, GuardProtect));
  exports.Set("guardRelease", Napi::Function::New(env, GuardRelease));
  exports.Set("duplicateFd", Napi::Function::New(env, DuplicateFd));
  exports.Set("unixListenQueue", Napi::Function::New(env, UnixListenQueue));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
  exports.Set("exitImmediately", Napi::Function::New(env, ExitImmediately));
  return exports;
}

}  // namespace sockvisor

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return sockvisor::Init(env, exports); }

NODE_API_MODULE(sockvisor, InitAddon)
