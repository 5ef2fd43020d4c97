// POSIX access ACLs as sockvisor reads and writes them (acl(5)): named, sorted entries in
// TypeScript; the binary xattr format stays in native/acl.cc.
//
// With an ACL, the group bits of the file's mode are the ACL *mask*: the most any named user or
// group entry (and the owning group) can get. So a socket made with `--socket-mode 0600
// --socket-allow www-data` shows `srw-rw----+` in `ls -l`: owner rw, mask rw (www-data's entry),
// other none; the owning group itself keeps no access (`getfacl` shows `group::---`).
import { readAcl, type NativeAclEntry, type NativeError } from '../native.js';
import { groupNameOf, userNameOf } from './identity.js';

export type AclTag = 'user_obj' | 'user' | 'group_obj' | 'group' | 'mask' | 'other';

export interface AclEntry {
  tag: AclTag;
  /** uid for 'user', gid for 'group' */
  id?: number;
  perm: number;
  /** the user or group name of id, for messages */
  name?: string;
}

// Tag values of <linux/posix_acl.h>; their numeric order is the order the kernel requires.
export const TAG_VALUES: Record<AclTag, number> = { user_obj: 0x01, user: 0x02, group_obj: 0x04, group: 0x08, mask: 0x10, other: 0x20 };
const UNDEFINED_ID = 0xffffffff;

/** The entries as the addon passes them: sorted by tag, then id (posix_acl_valid refuses anything else). */
export function toNativeAcl(entries: AclEntry[]): NativeAclEntry[] {
  return entries
    .map((e) => ({ tag: TAG_VALUES[e.tag], perm: e.perm & 7, id: e.tag === 'user' || e.tag === 'group' ? e.id! : UNDEFINED_ID }))
    .sort((a, b) => a.tag - b.tag || a.id - b.id);
}

/** Names the addon's entries, looking up user and group names for messages. */
export function fromNativeAcl(entries: NativeAclEntry[]): AclEntry[] {
  const byValue = new Map(Object.entries(TAG_VALUES).map(([tag, value]) => [value, tag as AclTag]));
  return entries.flatMap((e): AclEntry[] => {
    const tag = byValue.get(e.tag);
    if (!tag) return [];
    if (tag === 'user') return [{ tag, id: e.id, perm: e.perm, name: userNameOf(e.id) }];
    if (tag === 'group') return [{ tag, id: e.id, perm: e.perm, name: groupNameOf(e.id) }];
    return [{ tag, perm: e.perm }];
  });
}

/**
 * The ACL of a socket with `mode` that also lets each allowed user read and write it: the mode's
 * owner, group and other bits, one `user:` entry per uid, and a mask that lets those entries work.
 */
export function socketAcl(mode: number, allowed: { uid: number; name: string }[]): AclEntry[] {
  const groupBits = (mode >> 3) & 7;
  return [
    { tag: 'user_obj', perm: (mode >> 6) & 7 },
    ...allowed.map((u): AclEntry => ({ tag: 'user', id: u.uid, name: u.name, perm: 6 })),
    { tag: 'group_obj', perm: groupBits },
    { tag: 'mask', perm: groupBits | (allowed.length > 0 ? 6 : 0) },
    { tag: 'other', perm: mode & 7 },
  ];
}

/** The mode the kernel gives a file with this ACL, as `ls -l` and stat show it: owner, mask, other. */
export function modeOfAcl(entries: AclEntry[]): number {
  const perm = (tag: AclTag): number => entries.find((e) => e.tag === tag)?.perm ?? 0;
  const group = entries.some((e) => e.tag === 'mask') ? perm('mask') : perm('group_obj');
  return (perm('user_obj') << 6) | (group << 3) | perm('other');
}

/** 'rw-' for 6. */
export function formatPerm(perm: number): string {
  return `${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}${perm & 1 ? 'x' : '-'}`;
}

/** One entry as getfacl prints it: user:www-data:rw-. */
export function formatAclEntry(e: AclEntry): string {
  const kind = e.tag === 'user_obj' || e.tag === 'user' ? 'user' : e.tag === 'group_obj' || e.tag === 'group' ? 'group' : e.tag;
  const who = e.tag === 'user' || e.tag === 'group' ? (e.name ?? String(e.id)) : '';
  return `${kind}:${who}:${formatPerm(e.perm)}`;
}

/** The access ACL of path as the addon reads it, or null when it has none or its file system keeps none (EOPNOTSUPP). */
export function readNativeAclOrNull(path: string): NativeAclEntry[] | null {
  try {
    return readAcl(path);
  } catch (error) {
    if ((error as NativeError).code === 'EOPNOTSUPP') return null;
    throw error;
  }
}

/** The access ACL of path, or null when it has none or its file system keeps none (EOPNOTSUPP). */
export function readAclOrNull(path: string): AclEntry[] | null {
  const entries = readNativeAclOrNull(path);
  return entries ? fromNativeAcl(entries) : null;
}

/** Whether the file system holding path stores POSIX ACLs (getxattr answers EOPNOTSUPP where not). */
export function supportsAcl(path: string): boolean {
  try {
    readAcl(path);
    return true;
  } catch (error) {
    return (error as NativeError).code !== 'EOPNOTSUPP';
  }
}
