// Self-healing's decisions: what is found at the path -> what is done, and the order of the changes
// that restore a mode, owner or ACL (checked against a model of who may write the file after each).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HeldFileChange, NativeAclEntry } from '../../src/native.js';
import { fromNativeAcl } from '../../src/socket/acl.js';
import { accessOf } from '../../src/socket/access.js';
import { decidePathRepair, permissionSteps, type FileAttributes } from '../../src/socket/repair-plan.js';
import type { Identity } from '../../src/socket/identity.js';

const stale = { dev: 1n, ino: 2n };

test('the held socket is checked; a removed one is linked back while it has a name, else made anew', () => {
  assert.deepEqual(decidePathRepair({ kind: 'ours' }, true), { action: 'check-permissions' });
  assert.deepEqual(decidePathRepair({ kind: 'missing' }, true), { action: 'relink', stale: null });
  assert.deepEqual(decidePathRepair({ kind: 'missing' }, false), { action: 'create', stale: null });
  assert.deepEqual(decidePathRepair({ kind: 'stale-socket', ...stale }, true), { action: 'relink', stale });
  assert.deepEqual(decidePathRepair({ kind: 'stale-socket', ...stale }, false), { action: 'create', stale });
});

test('a live socket, a socket that cannot be probed, a file, a folder or a symlink is left alone, saying why', () => {
  for (const named of [true, false]) {
    const live = decidePathRepair({ kind: 'live-socket' }, named);
    assert.equal(live.action, 'leave');
    assert.match((live as { why: string }).why, /another server listens on it/);
    assert.equal(decidePathRepair({ kind: 'unknown-socket', code: 'EACCES' }, named).action, 'leave');
    for (const what of ['a regular file', 'a directory', 'a symbolic link']) {
      const left = decidePathRepair({ kind: 'not-a-socket', what }, named);
      assert.deepEqual(left, { action: 'leave', why: `sockvisor never removes or follows ${what}` });
    }
  }
});

const ROOT_WWW = { uid: 0, gid: 33 };
const NOBODY = { uid: 65534, gid: 65534 };
const attrs = (mode: number, owner: { uid: number; gid: number }, acl: NativeAclEntry[] | null = null): FileAttributes => ({
  mode,
  ...owner,
  acl,
});

test('nothing changed: nothing to do', () => {
  assert.deepEqual(permissionSteps(attrs(0o660, ROOT_WWW), attrs(0o660, ROOT_WWW)), []);
});

test('a chmod alone, or a chown alone, is undone in one step (nginx is never locked out meanwhile)', () => {
  assert.deepEqual(permissionSteps(attrs(0o777, ROOT_WWW), attrs(0o660, ROOT_WWW)), [{ mode: 0o660 }]);
  assert.deepEqual(permissionSteps(attrs(0o600, ROOT_WWW), attrs(0o660, ROOT_WWW)), [{ mode: 0o660 }]);
  assert.deepEqual(permissionSteps(attrs(0o4660, ROOT_WWW), attrs(0o660, ROOT_WWW)), [{ mode: 0o660 }]);
  assert.deepEqual(permissionSteps(attrs(0o660, NOBODY), attrs(0o660, ROOT_WWW)), [{ uid: 0, gid: 33 }]);
});

test('mode and owner both changed: narrowed first, then chowned, then widened', () => {
  assert.deepEqual(permissionSteps(attrs(0o777, NOBODY), attrs(0o660, ROOT_WWW)), [{ mode: 0o660 }, { uid: 0, gid: 33 }]);
  assert.deepEqual(permissionSteps(attrs(0o000, NOBODY), attrs(0o660, ROOT_WWW)), [{ uid: 0, gid: 33 }, { mode: 0o660 }]);
  assert.deepEqual(permissionSteps(attrs(0o606, NOBODY), attrs(0o660, ROOT_WWW)), [{ mode: 0o600 }, { uid: 0, gid: 33 }, { mode: 0o660 }]);
});

// --- Who may write the file (connect() needs write): the kernel's rule, as socket/access.ts applies it
// for run and doctor (an ACL counts only while the mode's group bits are not all clear). ---
const USER_OBJ = 0x01;
const USER = 0x02;
const GROUP_OBJ = 0x04;
const MASK = 0x10;
const OTHER = 0x20;
const UNDEF = 0xffffffff;

interface Principal {
  uid: number;
  gids: number[];
}

function mayWrite(f: FileAttributes, p: Principal): boolean {
  const who: Identity = { name: `uid ${p.uid}`, uid: p.uid, gid: p.gids[0]!, groups: p.gids, home: '/' };
  const file = { mode: f.mode, uid: f.uid, gid: f.gid, acl: f.acl ? fromNativeAcl(f.acl) : null };
  return (accessOf(who, file).bits & 2) !== 0;
}

/** What the kernel does with each change (setxattr taken as one step; see repair-plan.ts for its inside). */
function apply(f: FileAttributes, change: HeldFileChange): FileAttributes {
  if ('mode' in change) {
    const acl = f.acl?.map((e) => {
      const hasMask = f.acl!.some((x) => x.tag === MASK);
      if (e.tag === USER_OBJ) return { ...e, perm: (change.mode >> 6) & 7 };
      if (e.tag === (hasMask ? MASK : GROUP_OBJ)) return { ...e, perm: (change.mode >> 3) & 7 };
      if (e.tag === OTHER) return { ...e, perm: change.mode & 7 };
      return e;
    });
    return { ...f, mode: change.mode, acl: acl ?? null };
  }
  if ('uid' in change) return { ...f, uid: change.uid, gid: change.gid };
  if (change.acl === null) return { ...f, acl: null };
  const perm = (tag: number): number => change.acl!.find((e) => e.tag === tag)?.perm ?? 0;
  const group = change.acl.some((e) => e.tag === MASK) ? perm(MASK) : perm(GROUP_OBJ);
  return { ...f, acl: change.acl, mode: (f.mode & 0o7000) | (perm(USER_OBJ) << 6) | (group << 3) | perm(OTHER) };
}

const principals: Principal[] = [
  { uid: 1000, gids: [1000] },
  { uid: 33, gids: [33] },
  { uid: 65534, gids: [65534] },
  { uid: 1001, gids: [33, 1001] },
  { uid: 1002, gids: [65534] },
  { uid: 1003, gids: [1003] },
];
const owners = [
  { uid: 1000, gid: 33 },
  { uid: 65534, gid: 65534 },
  { uid: 1001, gid: 1003 },
];

/** Asserts the steps reach `wanted` and that no state on the way lets in anyone whom neither the state before nor `wanted` lets in. */
function checkRepair(found: FileAttributes, wanted: FileAttributes): void {
  let state = found;
  for (const step of permissionSteps(found, wanted)) {
    const next = apply(state, step);
    for (const p of principals) {
      if (mayWrite(next, p))
        assert.ok(mayWrite(state, p) || mayWrite(wanted, p), `${JSON.stringify(step)} from ${JSON.stringify(state)} lets uid ${p.uid} in`);
    }
    state = next;
  }
  assert.equal(state.mode & 0o7777, wanted.mode, `mode after repair of ${JSON.stringify(found)}`);
  assert.deepEqual([state.uid, state.gid], [wanted.uid, wanted.gid]);
  assert.deepEqual(state.acl, wanted.acl);
}

test('every mode and owner found is brought back, never letting in more than before or than wanted on the way', () => {
  const modes = [0o000, 0o020, 0o600, 0o606, 0o660, 0o666, 0o700, 0o777, 0o4777];
  for (const wantedMode of [0o660, 0o020, 0o600, 0o666]) {
    for (const mode of modes) {
      for (const owner of owners) checkRepair(attrs(mode, owner), attrs(wantedMode, owners[0]!));
    }
  }
});

/** The ACL of --socket-mode 0600 --socket-allow 33 (as socket/acl.ts makes it). */
const allowAcl = (owner: number, group: number, mask: number, other: number, named = 6): NativeAclEntry[] => [
  { tag: USER_OBJ, perm: owner, id: UNDEF },
  { tag: USER, perm: named, id: 33 },
  { tag: GROUP_OBJ, perm: group, id: UNDEF },
  { tag: MASK, perm: mask, id: UNDEF },
  { tag: OTHER, perm: other, id: UNDEF },
];

test('an ACL changed by chmod 777 is set back by one chmod; one removed or extended is set with no permissions first', () => {
  const wanted = attrs(0o660, owners[0]!, allowAcl(6, 0, 6, 0));
  // chmod 777 on a file with an ACL changes its owner, mask and other entries (acl(5)).
  const chmodded = attrs(0o777, owners[0]!, allowAcl(7, 0, 7, 7));
  // chmod sets those very entries back: one step, www-data's entry never off meanwhile.
  assert.deepEqual(permissionSteps(chmodded, wanted), [{ mode: 0o660 }]);
  checkRepair(chmodded, wanted);

  // setfacl -b: the ACL is gone, the mode kept (group bits were the mask).
  const stripped = attrs(0o660, owners[0]!);
  assert.deepEqual(permissionSteps(stripped, wanted), [{ acl: wanted.acl!.map((e) => ({ ...e, perm: 0 })) }, { acl: wanted.acl }]);
  checkRepair(stripped, wanted);
  assert.deepEqual(permissionSteps(attrs(0o660, NOBODY), wanted), [
    { acl: wanted.acl!.map((e) => ({ ...e, perm: 0 })) },
    { uid: 1000, gid: 33 },
    { acl: wanted.acl },
  ]);

  // setfacl -m u:65534:rw: an entry nobody asked for.
  const extended = attrs(0o660, owners[0]!, [
    ...allowAcl(6, 0, 6, 0).slice(0, 2),
    { tag: USER, perm: 6, id: 65534 },
    ...allowAcl(6, 0, 6, 0).slice(2),
  ]);
  checkRepair(extended, wanted);
  // chmod 606 clears the mask: the kernel then ignores the ACL, and www-data's entry (rw-, masked to
  // ---) no longer keeps it out: it gets the mode's other bits, rw-. The repair is judged by that rule.
  const www = principals[1]!;
  assert.equal(mayWrite(attrs(0o606, { uid: 1000, gid: 1000 }, allowAcl(6, 0, 0, 6)), www), true, 'the masked entry of www-data decided');
  assert.equal(mayWrite(attrs(0o600, { uid: 1000, gid: 1000 }, allowAcl(6, 0, 0, 0)), www), false);
  checkRepair(attrs(0o606, owners[0]!, allowAcl(6, 0, 0, 6)), wanted);
  // Every mode and owner, with no ACL, with sockvisor's ACL chmodded, and with an extended one; the
  // modes with no group bits but some for others are where an ACL stops counting.
  for (const mode of [0o000, 0o020, 0o600, 0o606, 0o604, 0o006, 0o660, 0o666, 0o777]) {
    for (const owner of owners) {
      checkRepair(attrs(mode, owner), wanted);
      checkRepair(attrs(mode, owner, allowAcl((mode >> 6) & 7, 0, (mode >> 3) & 7, mode & 7)), wanted);
      checkRepair({ ...apply(extended, { mode }), ...owner }, wanted);
    }
  }
});

test('an ACL on a socket that should have none is removed, and the mode set', () => {
  const wanted = attrs(0o660, ROOT_WWW);
  const added = attrs(0o660, ROOT_WWW, [
    { tag: USER_OBJ, perm: 6, id: UNDEF },
    { tag: USER, perm: 6, id: 65534 },
    { tag: GROUP_OBJ, perm: 6, id: UNDEF },
    { tag: MASK, perm: 6, id: UNDEF },
    { tag: OTHER, perm: 0, id: UNDEF },
  ]);
  assert.deepEqual(permissionSteps(added, wanted), [{ acl: null }]);
  checkRepair(added, wanted);
  checkRepair(
    {
      ...added,
      mode: 0o777,
      acl: added.acl!.map((e) => (e.tag === OTHER || e.tag === MASK || e.tag === USER_OBJ ? { ...e, perm: 7 } : e)),
    },
    wanted,
  );
  // chmod 606 on it: no group bits, so the kernel ignores the ACL and uid 65534's entry with it.
  checkRepair(apply(added, { mode: 0o606 }), wanted);
  checkRepair({ ...apply(added, { mode: 0o604 }), ...NOBODY }, wanted);
});

/**
 * The states one change passes through: a setxattr of an ACL sets the mode and the ACL, and a file
 * system may store either first (tmpfs stores the mode, then caches the ACL), so both halves count.
 */
function statesOf(f: FileAttributes, change: HeldFileChange): FileAttributes[] {
  const after = apply(f, change);
  if ('mode' in change || 'uid' in change) return [after];
  return [{ ...f, mode: after.mode }, { ...f, acl: after.acl }, after];
}

test('a new socket (born 0000) gets its permissions letting in nobody the final ones keep out, even mid-setxattr', () => {
  const born = [attrs(0, { uid: 0, gid: 0 }), attrs(0, { uid: 0, gid: 1003 })];
  const wanteds = [
    attrs(0o660, ROOT_WWW),
    attrs(0o600, { uid: 0, gid: 1003 }),
    attrs(0o660, owners[0]!, allowAcl(6, 0, 6, 0)),
    attrs(0o660, { uid: 0, gid: 1003 }, allowAcl(6, 0, 6, 0)),
  ];
  for (const found of born) {
    for (const wanted of wanteds) {
      let state = found;
      for (const step of permissionSteps(found, wanted)) {
        for (const between of statesOf(state, step)) {
          for (const p of principals) {
            const why = `${JSON.stringify(step)} from ${JSON.stringify(state)} lets uid ${p.uid} in`;
            assert.ok(!mayWrite(between, p) || mayWrite(wanted, p), why);
          }
        }
        state = apply(state, step);
      }
      assert.deepEqual(state, wanted);
    }
  }
  // With an ACL: first every entry with no permissions, then the owner, then the ACL in full.
  const wanted = wanteds[3]!;
  const none = wanted.acl!.map((e) => ({ ...e, perm: 0 }));
  assert.deepEqual(permissionSteps(born[0]!, wanted), [{ acl: none }, { uid: 0, gid: 1003 }, { acl: wanted.acl }]);
  // Without: the owner, then the mode.
  assert.deepEqual(permissionSteps(born[0]!, wanteds[0]!), [{ uid: 0, gid: 33 }, { mode: 0o660 }]);
});
