// POSIX access ACLs as the kernel stores them: the xattr system.posix_acl_access in the binary
// format of <linux/posix_acl_xattr.h>. No libacl: a version word, then (tag, perm, id) entries.
#pragma once
#include <napi.h>
#include <stdint.h>

#include <vector>

namespace sockvisor {

struct AclEntry {
  uint16_t tag;   // ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER
  uint16_t perm;  // rwx bits
  uint32_t id;    // uid or gid for ACL_USER / ACL_GROUP, else ACL_UNDEFINED_ID
};

// Reads [{ tag, perm, id }] from a JS array (TypeScript validated and sorted it); false when malformed.
bool AclFromJs(Napi::Value value, std::vector<AclEntry>* entries);

// Sets the access ACL of the file an O_PATH descriptor names (fsetxattr refuses O_PATH fds, so it
// goes through /proc/self/fd/N). The kernel derives the file's mode from the entries: owner bits
// from ACL_USER_OBJ, group bits from ACL_MASK, other bits from ACL_OTHER. 0, or -1 with errno set.
int SetAccessAcl(int opath, const std::vector<AclEntry>& entries);

// Removes the access ACL of the file an O_PATH descriptor names (same /proc route); the mode stays.
// 0, or -1 with errno set (ENODATA: it had none).
int RemoveAccessAcl(int opath);

}  // namespace sockvisor
