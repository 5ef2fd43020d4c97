// The held socket file through its O_PATH descriptor (native/held_file.cc): linked back after rm
// and reached by connect() under the new name, changed in place and never through a symlink
// swapped in at its path, its ACL restored exactly (getfacl) in the order socket/repair-plan.ts gives.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, fstatSync, lstatSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { changeHeldFile, closeFd, connectAs, linkHeldFile, openFolder, probeUnixSocket, readAcl } from '../../src/native.js';
import { socketAcl, toNativeAcl } from '../../src/socket/acl.js';
import { permissionSteps } from '../../src/socket/repair-plan.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';

const WWW_DATA = { uid: 33, gid: 33, groups: [33] };
let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-held-');
});
after(cleanupTempDirs);

function held(
  name: string,
  acl?: ReturnType<typeof toNativeAcl>,
): { path: string; fd: number; pathFd: number; ino: bigint; close(): void } {
  const path = join(dir, name);
  const created = makeUnixSocket({
    path,
    uid: 0,
    gid: 33,
    mode: acl ? 0o600 : 0o660,
    backlog: 8,
    keepPathFd: true,
    ...(acl ? { acl } : {}),
  });
  return {
    path,
    fd: created.fd,
    pathFd: created.pathFd,
    ino: created.ino,
    close() {
      closeFd(created.fd);
      closeFd(created.pathFd);
    },
  };
}

test('a removed socket is linked back from its descriptor while a second name is left; connect() reaches the same listener', () => {
  const s = held('relink.sock');
  const anchor = join(dir, '.relink.sock.sockvisor');
  const folder = openFolder(null, dir);
  try {
    linkHeldFile(s.pathFd, folder, '.relink.sock.sockvisor');
    assert.equal(lstatSync(anchor, { bigint: true }).ino, s.ino);
    unlinkSync(s.path);
    assert.equal(probeUnixSocket(s.path), 'ENOENT');
    linkHeldFile(s.pathFd, folder, 'relink.sock');
    assert.equal(lstatSync(s.path, { bigint: true }).ino, s.ino);
    assert.equal(connectAs({ path: s.path, ...WWW_DATA }), null, 'www-data cannot connect through the name linked back');
    assert.throws(() => linkHeldFile(s.pathFd, folder, 'relink.sock'), { code: 'EEXIST', syscall: 'link', path: 'relink.sock' });
    // Both names gone: the kernel never links an inode whose link count fell to 0.
    unlinkSync(s.path);
    unlinkSync(anchor);
    assert.equal(fstatSync(s.pathFd).nlink, 0);
    assert.throws(() => linkHeldFile(s.pathFd, folder, 'relink.sock'), { code: 'ENOENT', syscall: 'link' });
  } finally {
    closeFd(folder);
    s.close();
  }
});

test('changes go to the held inode, never to a symlink put at its path', () => {
  const s = held('swapped.sock');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'not yours\n');
  chmodSync(victim, 0o644);
  try {
    // The socket's name now leads to someone's file: a change by name would land there.
    symlinkSync(victim, join(dir, 'swap.tmp'));
    renameSync(join(dir, 'swap.tmp'), s.path);
    changeHeldFile(s.pathFd, { mode: 0o600 });
    changeHeldFile(s.pathFd, { uid: 65534, gid: 65534 });
    const v = statSync(victim);
    assert.deepEqual([v.mode & 0o7777, v.uid, v.gid], [0o644, 0, 0], 'the file behind the symlink was changed');
    assert.equal(readFileSync(victim, 'utf8'), 'not yours\n');
    const h = fstatSync(s.pathFd);
    assert.deepEqual([h.mode & 0o7777, h.uid, h.gid], [0o600, 65534, 65534]);
  } finally {
    s.close();
  }
});

test('an ACL socket chmodded 777, stripped (setfacl -b) or extended (setfacl -m) is restored exactly, www-data in and nobody out', () => {
  const wantedAcl = toNativeAcl(socketAcl(0o600, [{ uid: 33, name: 'www-data' }]));
  const s = held('acl.sock', wantedAcl);
  const getfacl = (): string[] =>
    execFileSync('getfacl', ['--omit-header', '--numeric', '--absolute-names', s.path], { encoding: 'utf8' }).trim().split('\n');
  const expected = getfacl();
  const wanted = { mode: 0o660, uid: 0, gid: 33, acl: wantedAcl };
  try {
    for (const tamper of [
      ['chmod', '777'],
      ['setfacl', '-b'],
      ['setfacl', '-m', 'u:65534:rw'],
      ['chown', '65534:65534'],
    ]) {
      execFileSync(tamper[0]!, [...tamper.slice(1), s.path]);
      const st = fstatSync(s.pathFd);
      const found = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, acl: readAcl(`/proc/self/fd/${s.pathFd}`) };
      const steps = permissionSteps(found, wanted);
      assert.ok(steps.length > 0, `${tamper.join(' ')} went unnoticed`);
      for (const step of steps) changeHeldFile(s.pathFd, step);
      assert.deepEqual(getfacl(), expected, `after ${tamper.join(' ')}`);
      assert.equal(lstatSync(s.path).mode & 0o7777, 0o660);
      assert.equal(connectAs({ path: s.path, ...WWW_DATA }), null);
      assert.equal(connectAs({ path: s.path, uid: 65534, gid: 65534, groups: [65534] }), 'EACCES');
    }
  } finally {
    s.close();
  }
});
