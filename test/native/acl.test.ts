// POSIX ACLs through the addon, checked against the acl package's own tools (getfacl, setfacl),
// real users racing connect() while ACL sockets are created, and a real file system without ACLs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeFd, connectAs, readAcl } from '../../src/native.js';
import { fromNativeAcl, modeOfAcl, socketAcl, toNativeAcl } from '../../src/socket/acl.js';
import { raceConnects } from '../helpers/racer.js';
import { cleanupTempDirs, makeTempDir, mountRamfs } from '../helpers/tmp.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';

const WWW_DATA = { uid: 33, gid: 33, groups: [33] };
let dir: string;
let shm: string;
let member: TestUser;
// Mounted before the tests are defined, so that a skip can say why in its name.
const ramfs = await mountRamfs();

before(async () => {
  dir = await makeTempDir('sockvisor-acl-');
  // /run and /dev/shm are tmpfs, which stores the new mode before it caches the new ACL: the
  // case the two-step ACL in socket/repair-plan.ts exists for.
  shm = mkdtempSync('/dev/shm/sockvisor-acl-');
  chmodSync(shm, 0o755); // mkdtemp makes 0700, which would keep every racer out
  member = createTestUser();
});
after(async () => {
  rmSync(shm, { recursive: true, force: true });
  removeTestUser(member);
  await cleanupTempDirs();
});

/** getfacl's entries for path, numeric ids, no header: ['user::rw-', 'user:33:rw-', ...]. */
function getfacl(path: string): string[] {
  return execFileSync('getfacl', ['--omit-header', '--numeric', '--absolute-names', path], { encoding: 'utf8' }).trim().split('\n');
}

function createAclSocket(path: string, gid: number, mode: number, allowUids: number[]): { fd: number } {
  const acl = toNativeAcl(
    socketAcl(
      mode,
      allowUids.map((uid) => ({ uid, name: String(uid) })),
    ),
  );
  return makeUnixSocket({ path, uid: 0, gid, mode, backlog: 64, acl });
}

test('a 0600 socket that allows www-data: getfacl shows exactly the entries, ls -l shows 0660+, www-data connects and nobody does not', () => {
  for (const base of [dir, shm]) {
    const path = join(base, 'allow.sock');
    const created = createAclSocket(path, 0, 0o600, [33]);
    try {
      assert.deepEqual(getfacl(path), ['user::rw-', 'user:33:rw-', 'group::---', 'mask::rw-', 'other::---']);
      assert.equal(lstatSync(path).mode & 0o7777, 0o660, 'the group bits of the mode are the mask');
      assert.match(execFileSync('ls', ['-l', path], { encoding: 'utf8' }), /^srw-rw----\+ /);
      assert.equal(connectAs({ path, ...WWW_DATA }), null, 'www-data was refused');
      assert.equal(connectAs({ path, uid: 65534, gid: 65534, groups: [65534] }), 'EACCES', 'nobody got in');
    } finally {
      closeFd(created.fd);
      unlinkSync(path);
    }
  }
});

test('readAcl reads what setfacl wrote, null where a file has no ACL; modeOfAcl agrees with stat', () => {
  const path = join(dir, 'setfacl.sock');
  const created = makeUnixSocket({ path, uid: -1, gid: -1, mode: 0o640, backlog: 1 });
  try {
    assert.equal(readAcl(path), null);
    execFileSync('setfacl', ['-m', `u:www-data:rw,g:${member.name}:r`, path]);
    const acl = fromNativeAcl(readAcl(path)!);
    assert.deepEqual(
      acl.map((e) => [e.tag, e.name ?? '', e.perm]),
      [
        ['user_obj', '', 6],
        ['user', 'www-data', 6],
        ['group_obj', '', 4],
        ['group', member.name, 4],
        ['mask', '', 6],
        ['other', '', 0],
      ],
    );
    assert.equal(modeOfAcl(acl), lstatSync(path).mode & 0o777);
  } finally {
    closeFd(created.fd);
    unlinkSync(path);
  }
});

test("the socket's group racing connect() against 300 ACL socket creations (0600 + www-data, on tmpfs) never gets in, while www-data does", async () => {
  const path = join(shm, 'race.sock');
  // The socket's group is the member's own: a one-step ACL on tmpfs would let it in through the
  // mask for an instant; the final ACL gives that group nothing.
  const [groupMember, allowed] = await raceConnects(path, [{ uid: member.uid, gid: member.gid }, WWW_DATA], 300, async () => {
    const created = createAclSocket(path, member.gid, 0o600, [33]);
    await new Promise((r) => setImmediate(r));
    closeFd(created.fd);
    unlinkSync(path);
  });
  assert.ok(groupMember!.tries > 1000, `the group member's racer made only ${groupMember!.tries} attempts`);
  assert.equal(groupMember!.ok, 0, `a member of the socket's group connected ${groupMember!.ok} times`);
  assert.ok(allowed!.ok > 0, `www-data, allowed by the ACL, never connected in ${allowed!.tries} attempts: the race proves nothing`);
});

test(
  ramfs
    ? 'on a file system without ACL support creation fails with EOPNOTSUPP from setxattr and leaves no file'
    : 'EOPNOTSUPP (skipped: this machine does not let the test mount a ramfs)',
  { skip: ramfs === null },
  () => {
    const path = join(ramfs!, 'noacl.sock');
    assert.throws(() => createAclSocket(path, 0, 0o600, [33]), { code: 'EOPNOTSUPP', syscall: 'setxattr', path });
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(ramfs!), []);
    assert.throws(() => readAcl(ramfs!), { code: 'EOPNOTSUPP' });
  },
);
