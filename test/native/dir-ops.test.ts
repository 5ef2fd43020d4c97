// Folders through descriptors (native/dir_ops.cc): a symlink at a name is never followed, a folder
// is made 0000 and given its mode through its own descriptor, a name is removed only while it is
// still the inode recorded, and a socket is checked in its folder's descriptor after bind.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeFd, makeFolder, openFolder, readLinkAt, removeIfSame } from '../../src/native.js';
import { bindUnixSocket } from '../../src/socket/create.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-dirops-');
});
after(cleanupTempDirs);

/** O_CLOEXEC as /proc/self/fdinfo shows the flags (octal). */
function isCloseOnExec(fd: number): boolean {
  const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (Number.parseInt(flags, 8) & 0o2000000) !== 0;
}

test('openFolder opens a folder close-on-exec and refuses a symlink or a file at the name (ENOTDIR), whatever it leads to', () => {
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  writeFileSync(join(dir, 'file'), 'x');
  const parent = openFolder(null, dir);
  try {
    const fd = openFolder(parent, 'real');
    assert.ok(isCloseOnExec(fd));
    closeFd(fd);
    assert.throws(() => openFolder(parent, 'link'), { code: 'ENOTDIR', syscall: 'openat', path: 'link' });
    assert.throws(() => openFolder(parent, 'file'), { code: 'ENOTDIR' });
    assert.throws(() => openFolder(parent, 'none'), { code: 'ENOENT' });
    assert.equal(readLinkAt(parent, 'link'), join(dir, 'real'));
    assert.throws(() => readLinkAt(parent, 'real'), { code: 'EINVAL', syscall: 'readlinkat' });
  } finally {
    closeFd(parent);
  }
});

test('makeFolder makes a folder in the parent descriptor, its mode set through its own whatever the umask; never through a symlink', () => {
  const parent = openFolder(null, dir);
  const old = process.umask(0o077);
  try {
    const made = makeFolder(parent, 'made', 0o755);
    assert.ok(isCloseOnExec(made.fd));
    const st = statSync(join(dir, 'made'), { bigint: true });
    assert.deepEqual([Number(st.mode & 0o7777n), st.uid, st.dev, st.ino], [0o755, 0n, made.dev, made.ino]);
    closeFd(made.fd);
    assert.throws(() => makeFolder(parent, 'made', 0o755), { code: 'EEXIST', syscall: 'mkdirat' });

    // A symlink at the name: mkdirat does not follow it, and the file it leads to keeps its mode.
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'root only\n', { mode: 0o600 });
    symlinkSync(victim, join(dir, 'swapped'));
    assert.throws(() => makeFolder(parent, 'swapped', 0o755), { code: 'EEXIST' });
    assert.equal(statSync(victim).mode & 0o7777, 0o600);
    assert.ok(lstatSync(join(dir, 'swapped')).isSymbolicLink());
  } finally {
    process.umask(old);
    closeFd(parent);
  }
});

test('removeIfSame removes a name only while it is the inode recorded, of the kind asked, and never follows a symlink', () => {
  const parent = openFolder(null, dir);
  const path = join(dir, 'rm.sock');
  try {
    const first = makeUnixSocket({ path, uid: -1, gid: -1, mode: 0o600, backlog: 1 });
    closeFd(first.fd);
    // Another socket at the name now (what someone can put there between a check and a removal),
    // made while the first still exists so that its inode number cannot be the first one's.
    const second = makeUnixSocket({ path: join(dir, 'rm2.sock'), uid: -1, gid: -1, mode: 0o600, backlog: 1 });
    closeFd(second.fd);
    renameSync(join(dir, 'rm2.sock'), path);
    assert.equal(removeIfSame(parent, 'rm.sock', first, false), false);
    assert.equal(lstatSync(path, { bigint: true }).ino, second.ino, 'a different inode was removed');
    assert.equal(removeIfSame(parent, 'rm.sock', second, true), false, 'a socket removed as a folder');
    assert.equal(removeIfSame(parent, 'rm.sock', second, false), true);
    assert.equal(lstatSync(path, { throwIfNoEntry: false }), undefined);
    assert.equal(removeIfSame(parent, 'rm.sock', second, false), false, 'a missing name is not an error');

    // A symlink to our folder at the name: the link is not the folder, nothing is removed.
    mkdirSync(join(dir, 'rmdir'));
    const folder = statSync(join(dir, 'rmdir'), { bigint: true });
    symlinkSync(join(dir, 'rmdir'), join(dir, 'rmdir-link'));
    assert.equal(removeIfSame(parent, 'rmdir-link', folder, true), false);
    writeFileSync(join(dir, 'rmdir', 'theirs'), 'x');
    assert.throws(() => removeIfSame(parent, 'rmdir', folder, true), { code: 'ENOTEMPTY', syscall: 'unlinkat' });
    unlinkSync(join(dir, 'rmdir', 'theirs'));
    assert.equal(removeIfSame(parent, 'rmdir', folder, true), true);
    assert.equal(lstatSync(join(dir, 'rmdir'), { throwIfNoEntry: false }), undefined);
  } finally {
    closeFd(parent);
  }
});

test('a socket bound where its folder descriptor is not: refused (ENOENT), nothing chmodded or chowned, the stray 0000 file left', () => {
  mkdirSync(join(dir, 'checked'));
  mkdirSync(join(dir, 'elsewhere'));
  const checked = openFolder(null, join(dir, 'checked'));
  const stray = join(dir, 'elsewhere', 'app.sock');
  try {
    // What a folder swapped between the check and bind() amounts to: the path leads elsewhere.
    // Made as sockvisor makes it (bound by the addon, then the permission steps): refused before any step.
    const wide = { mode: 0o666, uid: 33, gid: 33, acl: null };
    assert.throws(() => bindUnixSocket(stray, checked, wide, 1), { code: 'ENOENT', syscall: 'open' });
    const st = lstatSync(stray);
    assert.ok(st.isSocket());
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0, 0, 0]);
    assert.deepEqual(readdirSync(join(dir, 'checked')), []);

    // In its folder: checked there, given its owner and mode.
    const path = join(dir, 'checked', 'app.sock');
    const ok = bindUnixSocket(path, checked, { mode: 0o660, uid: 33, gid: 33, acl: null }, 1);
    const now = lstatSync(path, { bigint: true });
    assert.deepEqual([Number(now.mode & 0o7777n), now.uid, now.gid, now.ino], [0o660, 33n, 33n, ok.ino]);
    assert.ok(isCloseOnExec(ok.pathFd));
    closeFd(ok.fd);
    closeFd(ok.pathFd);
  } finally {
    closeFd(checked);
    unlinkSync(stray);
    rmdirSync(join(dir, 'elsewhere'));
  }
});
