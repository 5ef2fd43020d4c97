// Socket creation, checked the way a user would: ls -l, /proc/net/unix, and a real unprivileged
// racer (www-data) connecting while sockets are created the way sockvisor creates them (the addon
// binds, born 0000; socket/create.ts gives the permissions in the steps socket/repair-plan.ts plans).
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeFd, createUnixSocket, probeUnixSocket } from '../../src/native.js';
import { raceConnects, type RaceResult } from '../helpers/racer.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';

const WWW_DATA = 33;
let dir: string;

before(async () => {
  dir = await makeTempDir('sockvisor-native-');
});
after(cleanupTempDirs);

/** Path and inode of every bound unix socket, from /proc/net/unix (what ss -x reads). */
function boundPaths(): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 8) result.set(fields[7]!, fields[6]!);
  }
  return result;
}

test('the socket file gets exactly the owner, group and mode asked for, and /proc/net/unix shows its own path', () => {
  const path = join(dir, 'exact.sock');
  const created = makeUnixSocket({ path, uid: 0, gid: WWW_DATA, mode: 0o660, backlog: 16 });
  try {
    const st = lstatSync(path, { bigint: true });
    assert.ok(st.isSocket());
    assert.equal(Number(st.mode) & 0o7777, 0o660);
    assert.equal(Number(st.uid), 0);
    assert.equal(Number(st.gid), WWW_DATA);
    assert.equal(st.ino, created.ino);
    assert.ok(boundPaths().has(path), `${path} is not listed in /proc/net/unix`);
    assert.equal(probeUnixSocket(path), null, 'nothing accepts connections on the new socket');
  } finally {
    closeFd(created.fd);
    unlinkSync(path);
  }
  assert.equal(probeUnixSocket(path), 'ENOENT');
});

test('the addon alone binds a listening socket with mode 0000, owned by root:root, and sets nothing else', () => {
  const path = join(dir, 'born.sock');
  const created = createUnixSocket({ path, backlog: 1 });
  try {
    const st = lstatSync(path, { bigint: true });
    assert.ok(st.isSocket());
    assert.deepEqual([Number(st.mode & 0o7777n), st.uid, st.gid, st.ino], [0, 0n, 0n, created.ino]);
    // Only root passes a mode-0000 file: it listens already, and nobody else gets in.
    assert.equal(probeUnixSocket(path), null, 'root cannot connect to the new socket');
  } finally {
    closeFd(created.fd);
    closeFd(created.pathFd);
    unlinkSync(path);
  }
});

test('a closed socket whose file remains is reported stale (ECONNREFUSED)', () => {
  const path = join(dir, 'stale.sock');
  const created = makeUnixSocket({ path, uid: -1, gid: -1, mode: 0o600, backlog: 1 });
  closeFd(created.fd);
  try {
    assert.equal(probeUnixSocket(path), 'ECONNREFUSED');
  } finally {
    unlinkSync(path);
  }
});

test('the mode does not depend on the umask (umask 000 here)', () => {
  const path = join(dir, 'umask.sock');
  const old = process.umask(0);
  try {
    const created = makeUnixSocket({ path, uid: -1, gid: -1, mode: 0o640, backlog: 1 });
    closeFd(created.fd);
    assert.equal(lstatSync(path).mode & 0o7777, 0o640);
  } finally {
    process.umask(old);
    unlinkSync(path);
  }
});

test('bind on an existing path fails with EADDRINUSE and leaves the file alone', () => {
  const path = join(dir, 'taken');
  writeFileSync(path, 'keep me');
  try {
    assert.throws(() => createUnixSocket({ path, backlog: 1 }), { code: 'EADDRINUSE', syscall: 'bind' });
    assert.equal(readFileSync(path, 'utf8'), 'keep me');
  } finally {
    unlinkSync(path);
  }
});

/** The usual way (Node's net, uWSGI without sockvisor): bind and listen, then chmod. */
async function naiveCreate(path: string, mode: number): Promise<{ close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(path, mode);
  return { close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Creates and removes a socket `rounds` times while a www-data racer connects in a loop. */
async function race(mode: number, rounds: number, naive = false): Promise<RaceResult> {
  const path = join(dir, `race-${mode.toString(8)}.sock`);
  const [result] = await raceConnects(path, [{ uid: WWW_DATA, gid: WWW_DATA }], rounds, async () => {
    if (naive) {
      const server = await naiveCreate(path, mode);
      await new Promise((r) => setImmediate(r));
      await server.close(); // net.Server unlinks its path on close
      return;
    }
    const created = makeUnixSocket({ path, uid: 0, gid: 0, mode, backlog: 64 });
    // Keep each socket alive a moment so that queued connects are counted, then start over.
    await new Promise((r) => setImmediate(r));
    closeFd(created.fd);
    unlinkSync(path);
  });
  return result!;
}

test('www-data racing connect() against 400 socket creations with final mode 0600 root:root never gets in', async () => {
  const result = await race(0o600, 400);
  assert.ok(result.tries > 1000, `the racer made only ${result.tries} attempts`);
  assert.equal(result.ok, 0, `www-data connected ${result.ok} times`);
});

test('control: bind-then-chmod to the same 0600 lets the same racer in, so the race above can fail', async () => {
  const result = await race(0o600, 400, true);
  assert.ok(result.ok > 0, `the racer never got through the bind-then-chmod window in ${result.tries} attempts: the race proves nothing`);
});

test('control: the same racer does get in when the final mode lets it (0666)', async () => {
  const result = await race(0o666, 400);
  assert.ok(result.ok > 0, `the racer never connected in ${result.tries} attempts: it would prove nothing`);
});
