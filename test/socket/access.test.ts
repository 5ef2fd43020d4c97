// The access verdict as the kernel gives it (acl(5), "Access check algorithm"), on plain facts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modeOfAcl, socketAcl, toNativeAcl, type AclEntry } from '../../src/socket/acl.js';
import { accessOf, folderVerdict, socketVerdict, type FileOwnership } from '../../src/socket/access.js';
import type { Identity } from '../../src/socket/identity.js';

const wwwData: Identity = { name: 'www-data', uid: 33, gid: 33, groups: [33], home: '/var/www' };
const alice: Identity = { name: 'alice', uid: 1000, gid: 1000, groups: [1000, 27], home: '/home/alice' };
const file = (mode: number, acl?: AclEntry[], uid = 1000, gid = 1000): FileOwnership => ({ uid, gid, mode, acl: acl ?? null });

test('without an ACL: owner bits for the owner only, group bits for any of its groups, else other', () => {
  assert.deepEqual(accessOf(alice, file(0o066)), { bits: 0, via: 'owner' }, 'the owner does not fall through to group bits');
  assert.equal(accessOf(alice, file(0o060, undefined, 0, 27)).via, 'group', 'a supplementary group counts');
  assert.equal(accessOf(wwwData, file(0o755)).bits, 5);
  assert.deepEqual(accessOf({ ...wwwData, uid: 0 }, file(0o000)), { bits: 7, via: 'root' });
});

test('with an ACL: a user entry is limited by the mask; group entries are unioned, then masked; other last', () => {
  const acl = socketAcl(0o600, [{ uid: 33, name: 'www-data' }]);
  const socket = file(modeOfAcl(acl), acl);
  assert.equal(socket.mode, 0o660);
  assert.deepEqual([accessOf(wwwData, socket).bits, accessOf(wwwData, socket).via], [6, 'user entry']);
  assert.equal(
    accessOf({ ...wwwData, uid: 34, gid: 1000, groups: [1000] }, socket).bits,
    0,
    'the owning group gets group::---, not the mask',
  );
  assert.equal(accessOf({ ...wwwData, uid: 35, gid: 35, groups: [35] }, socket).bits, 0);

  const masked: AclEntry[] = [
    { tag: 'user_obj', perm: 6 },
    { tag: 'user', id: 33, perm: 6 },
    { tag: 'group_obj', perm: 0 },
    { tag: 'group', id: 27, perm: 2 },
    { tag: 'mask', perm: 4 },
    { tag: 'other', perm: 0 },
  ];
  assert.equal(accessOf(wwwData, file(0o640, masked)).bits, 4, 'mask r-- takes w away from user:www-data:rw-');
  assert.deepEqual([accessOf(alice, file(0o640, masked, 0, 0)).bits, accessOf(alice, file(0o640, masked, 0, 0)).via], [0, 'group']);
  // With the mask (the mode's group bits) all clear the kernel does not look at the ACL at all.
  assert.equal(
    accessOf(
      wwwData,
      file(
        0o606,
        masked.map((e) => (e.tag === 'mask' ? { ...e, perm: 0 } : e)),
      ),
    ).bits,
    6,
  );
});

test('folders are judged from / down: the outermost that blocks is named; missing ones are skipped', () => {
  const folders = [
    { path: '/', ownership: file(0o755, undefined, 0, 0) },
    { path: '/home', ownership: file(0o700, undefined, 0, 0) },
    { path: '/home/alice', ownership: file(0o700) },
    { path: '/home/alice/run', ownership: null },
  ];
  const verdict = folderVerdict(wwwData, folders);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.reason === 'directory' && verdict.directory, '/home');
  const acl: AclEntry[] = [
    { tag: 'user_obj', perm: 7 },
    { tag: 'user', id: 33, perm: 1 },
    { tag: 'group_obj', perm: 0 },
    { tag: 'mask', perm: 1 },
    { tag: 'other', perm: 0 },
  ];
  assert.equal(
    folderVerdict(wwwData, [folders[0]!, { path: '/srv', ownership: file(0o710, acl) }]).ok,
    true,
    'setfacl -m u:www-data:x lets it search',
  );
  assert.equal(folderVerdict(wwwData, [{ path: '/x', ownership: null, code: 'EACCES' }]).ok, false);
  assert.equal(socketVerdict(wwwData, file(0o020, undefined, 0, 33)).ok, true, '0020 root:www-data is enough (write only)');
});

test('the native ACL is sorted as the kernel requires, with undefined ids where none apply', () => {
  const acl = toNativeAcl(
    socketAcl(0o640, [
      { uid: 900, name: 'b' },
      { uid: 33, name: 'a' },
    ]),
  );
  assert.deepEqual(
    acl.map((e) => [e.tag, e.id === 0xffffffff ? -1 : e.id, e.perm]),
    [
      [0x01, -1, 6],
      [0x02, 33, 6],
      [0x02, 900, 6],
      [0x04, -1, 4],
      [0x10, -1, 6],
      [0x20, -1, 0],
    ],
  );
});
