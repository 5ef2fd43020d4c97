// spawn and connectAs take another user's credentials in the forked child (native/credentials.cc),
// and a step that fails before exec comes back as an error naming that step (native/fork_report.h).
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAs, spawn, watchChild, type NativeExit, type SpawnRequest, type SpawnedProcess } from '../../src/native.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';

let user: TestUser;
let dir: string;
before(async () => {
  user = createTestUser();
  dir = await makeTempDir('sockvisor-spawn-');
});
after(async () => {
  removeTestUser(user);
  await cleanupTempDirs();
});

const plain = { envp: [], fds: [0, 1, 2], listenPid: false, pdeathsig: 0 } satisfies Partial<SpawnRequest>;
// More than NGROUPS_MAX (65536): setgroups(2) refuses it with EINVAL, even for root.
const tooManyGroups = Array.from({ length: 65537 }, (_, i) => i);

/** Watches child until it exits; kill() ends it by its pidfd. */
function watched(child: SpawnedProcess): { exited: Promise<NativeExit>; kill(): void } {
  let watch: ReturnType<typeof watchChild> | undefined;
  const exited = new Promise<NativeExit>((resolve) => {
    watch = watchChild(child, resolve);
  });
  return { exited, kill: () => void watch?.signal(9) };
}

/** The values of a `Name:` line of /proc/PID/status (Uid and Gid: real, effective, saved, fs). */
function statusValues(pid: number, name: string): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  return (line ?? '')
    .slice(name.length + 1)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

test('the child runs with exactly the uid, gid and supplementary groups asked for', async () => {
  const child = spawn({ ...plain, file: '/bin/sleep', argv: ['sleep', '30'], uid: user.uid, gid: user.gid, groups: [user.gid, 33] });
  const { exited, kill } = watched(child);
  try {
    // spawn returns once execve succeeded: the credentials were taken by then.
    assert.deepEqual(statusValues(child.pid, 'Uid'), [user.uid, user.uid, user.uid, user.uid]);
    assert.deepEqual(statusValues(child.pid, 'Gid'), [user.gid, user.gid, user.gid, user.gid]);
    assert.deepEqual(
      statusValues(child.pid, 'Groups').sort((a, b) => a - b),
      [33, user.gid].sort((a, b) => a - b),
    );
  } finally {
    kill();
  }
  assert.equal((await exited).signal, 9);
});

/** Uid, Gid and Groups of every thread of this process. */
function threadCredentials(): string[] {
  return readdirSync('/proc/self/task').map((tid) =>
    readFileSync(`/proc/self/task/${tid}/status`, 'utf8')
      .split('\n')
      .filter((l) => /^(Uid|Gid|Groups):/.test(l))
      .join(' '),
  );
}

// The child shares this process's memory until it execs (native/fork_report.h): its credential
// change must stay its own, sockvisor keeps running as root.
test("a child started as another user leaves the credentials of every thread of the parent's as they were", async () => {
  const before = threadCredentials();
  assert.ok(before.length > 1, 'Node runs more than one thread');
  const child = spawn({ ...plain, file: '/bin/sleep', argv: ['sleep', '30'], uid: user.uid, gid: user.gid, groups: [user.gid, 33] });
  const { exited, kill } = watched(child);
  try {
    assert.deepEqual(statusValues(child.pid, 'Uid'), [user.uid, user.uid, user.uid, user.uid]);
    assert.deepEqual(threadCredentials(), before);
  } finally {
    kill();
  }
  assert.equal((await exited).signal, 9);
});

test('a step that fails in the child before exec is named: chdir as the user, execve, setgroups', async () => {
  const closed = join(dir, 'root-only');
  mkdirSync(closed, { mode: 0o700 });
  // As root the same cwd is fine: the EACCES below comes from the user's credentials, taken first.
  const asRoot = watched(spawn({ ...plain, file: '/bin/true', argv: ['true'], cwd: closed }));
  assert.equal((await asRoot.exited).code, 0);
  const asUser = { ...plain, file: '/bin/true', argv: ['true'], cwd: closed, uid: user.uid, gid: user.gid, groups: [user.gid] };
  assert.throws(() => spawn(asUser), { code: 'EACCES', syscall: 'chdir', path: '/bin/true' });
  const missing = join(dir, 'no-such-program');
  assert.throws(() => spawn({ ...plain, file: missing, argv: ['x'] }), { code: 'ENOENT', syscall: 'execve', path: missing });
  const tooMany = { ...plain, file: '/bin/true', argv: ['true'], groups: tooManyGroups };
  assert.throws(() => spawn(tooMany), { code: 'EINVAL', syscall: 'setgroups' });
});

test('connectAs: a failed credential step throws (no verdict on the socket); a missing socket is ENOENT', () => {
  const path = join(dir, 'nothing.sock');
  assert.equal(connectAs({ path, uid: user.uid, gid: user.gid, groups: [user.gid] }), 'ENOENT');
  const tooMany = { path, uid: user.uid, gid: user.gid, groups: tooManyGroups };
  assert.throws(() => connectAs(tooMany), { code: 'EINVAL', syscall: 'setgroups', path });
});
