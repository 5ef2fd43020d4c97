// Who may connect() to a unix socket path: write permission on the socket file and search (x) on
// every parent directory; read is neither needed nor enough; root always connects (docs/design-notes.md, 'Unix socket permissions').
// The verdict is a pure function of facts (modes, owners, ACL entries); small readers gather them.
// `run`'s start-up warnings and `doctor` both decide here, so they never disagree.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatAclEntry, formatPerm, readAclOrNull, type AclEntry } from './acl.js';
import { groupNameOf, userNameOf, type Identity } from './identity.js';
import { formatMode } from './mode.js';
import { searchedFolders, walkPath } from './path-walk.js';

export interface FileOwnership {
  uid: number;
  gid: number;
  mode: number;
  /** the access ACL, when the file has one beyond its mode bits */
  acl?: AclEntry[] | null;
  /** names of uid and gid, for messages */
  owner?: string;
  group?: string;
}

/** Which part of a file's permissions applies to someone, as the kernel picks it (acl(5), "Access check algorithm"). */
export type AccessClass = 'root' | 'owner' | 'user entry' | 'group' | 'group entry' | 'other';

export interface Access {
  /** rwx bits that apply (for a group match, the union over the matching entries, masked) */
  bits: number;
  via: AccessClass;
  /** the ACL entry that matched, and the mask that limited it */
  entry?: AclEntry;
  mask?: number;
}

/** One folder above a socket: null ownership when it does not exist (yet); code when it cannot be examined. */
export interface FolderFacts {
  /** the real folder: through a symbolic link, where its target leads */
  path: string;
  ownership: FileOwnership | null;
  code?: string;
  /** the symbolic link on the way that led to this folder */
  via?: string;
}

export type AccessVerdict =
  | { ok: true; access?: Access }
  | { ok: false; reason: 'socket'; ownership: FileOwnership; access: Access }
  | { ok: false; reason: 'directory'; directory: string; via?: string; ownership: FileOwnership; access: Access }
  | { ok: false; reason: 'unknown'; directory: string; code: string };

/** A way to fix a failed check: a sentence, and where there is one, a command to run now. */
export interface Fix {
  text: string;
  command?: string;
}

/**
 * The permissions that apply to who on a file. Without an ACL: owner, else group (primary or
 * supplementary), else other. With one: owner, else a user entry (masked), else every matching
 * group entry (masked), else other. The bits of a group match are exact for one wanted bit.
 */
export function accessOf(who: Identity, file: FileOwnership): Access {
  if (who.uid === 0) return { bits: 7, via: 'root' };
  const inGroup = (gid: number): boolean => who.gid === gid || who.groups.includes(gid);
  const acl = file.acl;
  if (who.uid === file.uid) return { bits: (file.mode >> 6) & 7, via: 'owner' };
  // The kernel consults an ACL only when the mode's group bits (the mask) are not all clear
  // (acl_permission_check in fs/namei.c); otherwise the plain mode bits decide.
  if (!acl || acl.length === 0 || ((file.mode >> 3) & 7) === 0) {
    if (inGroup(file.gid)) return { bits: (file.mode >> 3) & 7, via: 'group' };
    return { bits: file.mode & 7, via: 'other' };
  }
  const mask = acl.find((e) => e.tag === 'mask')?.perm ?? 7;
  const user = acl.find((e) => e.tag === 'user' && e.id === who.uid);
  if (user) return { bits: user.perm & mask, via: 'user entry', entry: user, mask };
  const groups = acl.filter((e) => (e.tag === 'group_obj' && inGroup(file.gid)) || (e.tag === 'group' && inGroup(e.id!)));
  if (groups.length > 0) {
    const bits = groups.reduce((sum, e) => sum | e.perm, 0) & mask;
    const named = groups.find((e) => e.tag === 'group' && (e.perm & mask) !== 0);
    return named ? { bits, via: 'group entry', entry: named, mask } : { bits, via: 'group', mask };
  }
  return { bits: acl.find((e) => e.tag === 'other')?.perm ?? file.mode & 7, via: 'other' };
}

/**
 * As ls -l shows it, 0700 alice:alice; with an ACL, 0660+ alice:alice (ACL user:www-data:rw-,
 * group::---,mask::rw-): the mode's group bits are then the mask, and group:: is the owning group's.
 */
export function describeOwnership(o: FileOwnership): string {
  const base = `${formatMode(o.mode)}${o.acl?.length ? '+' : ''} ${o.owner ?? o.uid}:${o.group ?? o.gid}`;
  const extras = (o.acl ?? []).filter((e) => e.tag !== 'user_obj' && e.tag !== 'other').map(formatAclEntry);
  return extras.length > 0 ? `${base} (ACL ${extras.join(',')})` : base;
}

/** Why these bits apply: "as other: r-x", "through the ACL entry user:www-data:rw- (mask rw-)". */
export function describeAccess(access: Access, file: FileOwnership): string {
  switch (access.via) {
    case 'root':
      return 'as root';
    case 'owner':
      return `as its owner: ${formatPerm(access.bits)}`;
    case 'user entry':
    case 'group entry':
      return `through the ACL entry ${formatAclEntry(access.entry!)} (mask ${formatPerm(access.mask ?? 7)}): ${formatPerm(access.bits)}`;
    case 'group':
      return `as a member of group ${file.group ?? file.gid}: ${formatPerm(access.bits)}`;
    case 'other':
      return `as other (neither owner nor in group ${file.group ?? file.gid}): ${formatPerm(access.bits)}`;
  }
}

/** stat + ACL + names of one file, following symlinks as connect() does. */
export function readOwnership(path: string): FileOwnership {
  const st = statSync(path);
  return {
    uid: st.uid,
    gid: st.gid,
    mode: st.mode & 0o7777,
    acl: readAclOrNull(path),
    owner: userNameOf(st.uid),
    group: groupNameOf(st.gid),
  };
}

/**
 * Every folder the kernel searches to reach socketPath, in its order: through a symbolic link on the
 * way, the folders of its target (`/tmp/lk -> /root/y`: /, /tmp, then /, /root, /root/y), not the
 * link's name. A missing folder ends the list (sockvisor makes it 0755, searchable by all).
 */
export function readFolders(socketPath: string): FolderFacts[] {
  const walk = walkPath(dirname(socketPath));
  const folders: FolderFacts[] = searchedFolders(walk).map((f) => ({
    path: f.path,
    ownership: f.ownership,
    ...(f.via ? { via: f.via } : {}),
  }));
  if (walk.error) folders.push({ path: walk.error.path, ownership: null, code: walk.error.code });
  else if (walk.missing) folders.push({ path: walk.missing, ownership: null });
  return folders;
}

/** The first folder who may not search, from / down, or null; a folder that cannot be examined stops the walk. */
export function folderVerdict(who: Identity, folders: FolderFacts[]): AccessVerdict {
  if (who.uid === 0) return { ok: true };
  for (const folder of folders) {
    if (folder.code) return { ok: false, reason: 'unknown', directory: folder.path, code: folder.code };
    if (!folder.ownership) continue;
    const access = accessOf(who, folder.ownership);
    if ((access.bits & 1) === 0) {
      const via = folder.via ? { via: folder.via } : {};
      return { ok: false, reason: 'directory', directory: folder.path, ...via, ownership: folder.ownership, access };
    }
  }
  return { ok: true };
}

/** Whether who may write (and so connect to) a socket file with this ownership. */
export function socketVerdict(who: Identity, socket: FileOwnership): AccessVerdict {
  const access = accessOf(who, socket);
  if ((access.bits & 2) === 0) return { ok: false, reason: 'socket', ownership: socket, access };
  return { ok: true, access };
}

/** Whether who could connect to a socket with this ownership at socketPath: the folders first, then the file. */
export function checkConnectAccess(who: Identity, socketPath: string, socket: FileOwnership): AccessVerdict {
  const folders = folderVerdict(who, readFolders(socketPath));
  return folders.ok ? socketVerdict(who, socket) : folders;
}

/** " (reached through the symbolic link '/tmp/lk')" for a folder a link led to, else nothing. */
export function describeVia(via: string | undefined): string {
  return via ? ` (reached through the symbolic link '${via}')` : '';
}

/** Shell-quotes a path for a command a user may paste. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** How to let who search a folder: only who (an ACL entry, no sudo needed in your own folder), or everyone. */
export function folderFixes(who: Identity, dir: string): Fix[] {
  return [
    { text: `let only ${who.name} search it`, command: `setfacl -m u:${who.name}:x ${shellQuote(dir)}` },
    { text: 'or let every user search it (not list it)', command: `chmod o+x ${shellQuote(dir)}` },
    { text: 'or put the socket in a folder everyone can search, e.g. under /run or $XDG_RUNTIME_DIR' },
  ];
}

/** How to let who write a socket: sockvisor's options (kept across restarts), or an ACL entry now. */
export function socketFixes(who: Identity, socketPath: string, groupName: string | undefined): Fix[] {
  return [
    { text: `hold the socket with sockvisor and let ${who.name} in by an ACL entry: --socket-allow ${who.name}` },
    { text: `or, as root, give it ${who.name}'s group: --socket-group ${groupName ?? who.name} (mode 0660)` },
    {
      text: `or now, until the server makes the socket again`,
      command: `setfacl -m u:${who.name}:rw ${shellQuote(socketPath)}`,
    },
  ];
}

/** "do this: cmd; or that: cmd2": fixes as one clause of a sentence. */
export function fixClause(fixes: Fix[]): string {
  return fixes.map((f) => (f.command ? `${f.text}: ${f.command}` : f.text)).join('; ');
}
