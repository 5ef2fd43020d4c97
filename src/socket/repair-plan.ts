// Self-healing as pure decisions (socket/healer.ts makes the calls): what is at a held socket's
// path now -> what to do about it; and how to bring a file's mode, owner or ACL to what is wanted
// without letting anyone in, on the way, whom neither what was found nor what is wanted lets in.
// The same steps give a new socket its permissions (socket/create.ts: from mode 0000, as bound).
//
// The rules are the safety rules (docs/architecture.md, 'Safety rules') applied at run time as at start: the held socket's own
// inode is repaired in place; a removed name is given back (the same inode while it still has a
// name somewhere, the anchor; else a new socket); a stale socket is replaced; a live socket of
// another server, a file, a folder or a symlink is never removed or followed.
//
// Why an ACL is set in two steps, first with every permission cleared, then in full: setting an
// access ACL sets the mode too (owner bits from user_obj, group bits from mask), and file systems
// differ in whether they store the new mode or the new ACL first. tmpfs updates the mode before it
// caches the ACL, so a one-step set on a mode-0000 file would, for an instant, let the file's owning
// group in through the mask bits before the named entries exist. After the first step the inode has
// the wanted entries with a mask that grants nothing, so whichever half of the second lands first,
// nobody gets in before the final entries are all there.
import type { HeldFileChange, NativeAclEntry } from '../native.js';
import { TAG_VALUES } from './acl.js';

/** What lstat (and, for a socket, a connect()) found at a held socket's path. */
export type PathFinding =
  /** the held socket's own inode (same device and inode number) */
  | { kind: 'ours' }
  | { kind: 'missing' }
  /** a socket file nobody listens on (connect: ECONNREFUSED) */
  | { kind: 'stale-socket'; dev: bigint; ino: bigint }
  /** a socket another server listens on */
  | { kind: 'live-socket' }
  /** a socket connect() could not tell about (EACCES, ...) */
  | { kind: 'unknown-socket'; code: string }
  /** a regular file, a folder, a symlink, a fifo */
  | { kind: 'not-a-socket'; what: string };

export type PathRepair =
  /** the path is ours: compare its mode, owner and ACL with what they should be */
  | { action: 'check-permissions' }
  /** link the held inode back at the path (after removing a stale socket there, if any) */
  | { action: 'relink'; stale: { dev: bigint; ino: bigint } | null }
  /** the held inode has no name left: a new socket at the path, and a handover to it */
  | { action: 'create'; stale: { dev: bigint; ino: bigint } | null }
  /** not sockvisor's to touch: say what is there and what to do, look again on the next change */
  | { action: 'leave'; why: string };

/**
 * What to do about what was found. `named`: the held inode still has a name somewhere (its anchor,
 * or a folder moved away), so it can be linked back: the same socket, nothing for the child to notice.
 */
export function decidePathRepair(found: PathFinding, named: boolean): PathRepair {
  switch (found.kind) {
    case 'ours':
      return { action: 'check-permissions' };
    case 'missing':
      return named ? { action: 'relink', stale: null } : { action: 'create', stale: null };
    case 'stale-socket': {
      const stale = { dev: found.dev, ino: found.ino };
      return named ? { action: 'relink', stale } : { action: 'create', stale };
    }
    case 'live-socket':
      return { action: 'leave', why: 'another server listens on it; sockvisor never takes over a live socket' };
    case 'unknown-socket':
      return { action: 'leave', why: `sockvisor cannot tell whether anyone listens on it (connect: ${found.code})` };
    case 'not-a-socket':
      return { action: 'leave', why: `sockvisor never removes or follows ${found.what}` };
  }
}

/** Words for what was found, as warnings and errors put it: "a regular file", "nothing". */
export function describeFinding(found: PathFinding): string {
  switch (found.kind) {
    case 'ours':
      return 'the socket sockvisor holds';
    case 'missing':
      return 'nothing';
    case 'stale-socket':
      return 'a socket nobody listens on';
    case 'live-socket':
      return 'a socket another server listens on';
    case 'unknown-socket':
      return `a socket sockvisor did not create (connect: ${found.code})`;
    case 'not-a-socket':
      return found.what;
  }
}

/** A socket file's mode (with set-id and sticky bits), owner, group and access ACL (null: none). */
export interface FileAttributes {
  mode: number;
  uid: number;
  gid: number;
  acl: NativeAclEntry[] | null;
}

const { user_obj: ACL_USER_OBJ, group_obj: ACL_GROUP_OBJ, mask: ACL_MASK, other: ACL_OTHER } = TAG_VALUES;

function sameAcl(a: NativeAclEntry[] | null, b: NativeAclEntry[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((e, i) => e.tag === b[i]!.tag && e.id === b[i]!.id && e.perm === b[i]!.perm);
}

/** The same entries (tag and id), whatever their permissions. */
function sameEntries(a: NativeAclEntry[] | null, b: NativeAclEntry[]): boolean {
  return a !== null && a.length === b.length && a.every((e, i) => e.tag === b[i]!.tag && e.id === b[i]!.id);
}

/** What chmod does to a file's ACL (acl(5)): owner, mask (else owning group) and other get the mode's bits. */
function chmodAcl(acl: NativeAclEntry[] | null, mode: number): NativeAclEntry[] | null {
  if (acl === null) return null;
  const hasMask = acl.some((e) => e.tag === ACL_MASK);
  return acl.map((e) => {
    if (e.tag === ACL_USER_OBJ) return { ...e, perm: (mode >> 6) & 7 };
    if (e.tag === (hasMask ? ACL_MASK : ACL_GROUP_OBJ)) return { ...e, perm: (mode >> 3) & 7 };
    if (e.tag === ACL_OTHER) return { ...e, perm: mode & 7 };
    return e;
  });
}

/** The mode bits each class of user gets from the wanted attributes: with an ACL, the owning group gets group_obj & mask. */
function baseAccess(wanted: FileAttributes): number {
  if (wanted.acl === null) return wanted.mode & 0o777;
  const perm = (tag: number): number => wanted.acl!.find((e) => e.tag === tag)?.perm ?? 0;
  const mask = wanted.acl.some((e) => e.tag === ACL_MASK) ? perm(ACL_MASK) : 7;
  return (perm(ACL_USER_OBJ) << 6) | ((perm(ACL_GROUP_OBJ) & mask) << 3) | perm(ACL_OTHER);
}

/**
 * The changes, in order, that bring `found` to `wanted`: a repair of a held socket, or a new socket's
 * permissions (found: mode 0000, as native/socket.cc binds it) (wanted.mode is the file mode: with an ACL,
 * its group bits are the mask; a wanted ACL is sockvisor's own, socket/acl.ts: named users get rw).
 * None when nothing differs. No state on the way lets in anyone whom neither the state before it
 * nor the wanted one lets in:
 *  - a chmod alone, a chown alone, or a chmod of a file with sockvisor's ACL (which changes its
 *    owner, mask and other entries, acl(5)) is undone in one step: nginx is never locked out;
 *  - when a chown (or an ACL's removal) changes whom the bits apply to, the mode is first narrowed
 *    to what both the file now and the wanted attributes give each class of user;
 *  - an ACL whose entries differ from the wanted ones (removed, or one added) is first set with no
 *    permissions at all (file systems store the mode and the ACL of one setxattr in either order:
 *    see the top of this file), then chowned, then set in full: its users are locked out for
 *    those few calls, as nothing short of that is safe;
 *  - an ACL nobody asked for is removed (the mode stays), then the mode set.
 */
export function permissionSteps(found: FileAttributes, wanted: FileAttributes): HeldFileChange[] {
  const steps: HeldFileChange[] = [];
  let mode = found.mode & 0o7777;
  let acl = found.acl;
  const ownerDiffers = found.uid !== wanted.uid || found.gid !== wanted.gid;
  const chown = (): void => void (ownerDiffers && steps.push({ uid: wanted.uid, gid: wanted.gid }));
  if (wanted.acl !== null && !sameEntries(acl, wanted.acl)) {
    // Nobody but root gets in until every entry is there (and the file owned by the right user).
    steps.push({ acl: wanted.acl.map((e) => ({ ...e, perm: 0 })) });
    chown();
    steps.push({ acl: wanted.acl });
    // Setting an ACL sets the rwx bits of the mode; set-id and sticky bits stay.
    mode = (mode & 0o7000) | wanted.mode;
  } else {
    const narrowest = baseAccess(wanted);
    if ((ownerDiffers || (wanted.acl === null && acl !== null)) && (mode & ~narrowest) !== 0) {
      mode &= narrowest;
      acl = chmodAcl(acl, mode);
      steps.push({ mode });
    }
    chown();
    if (wanted.acl !== null && !sameAcl(chmodAcl(acl, wanted.mode), wanted.acl)) {
      // Same entries, other permissions (not only what a chmod changes): one setxattr.
      steps.push({ acl: wanted.acl });
      mode = (mode & 0o7000) | wanted.mode;
    } else if (wanted.acl === null && acl !== null) {
      steps.push({ acl: null });
    }
    // Otherwise a chmod puts back the owner, mask and other entries of an ACL (acl(5)).
  }
  if (mode !== wanted.mode) steps.push({ mode: wanted.mode });
  return steps;
}
