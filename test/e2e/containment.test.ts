// Nothing a child starts outlives its place: kill -9 of sockvisor takes uWSGI down even after uWSGI
// dropped its own privileges (which clears PR_SET_PDEATHSIG), kill -9 of the uWSGI master leaves no
// worker behind, and orphans re-parented to sockvisor are reaped. Real uWSGI, real users, real signals.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGetUnix } from '../helpers/http.js';
import {
  childrenOf,
  commOf,
  existsInProc,
  isAlive,
  killGroup,
  parentOf,
  processGroupMembers,
  uidOf,
  waitInSleep,
  waitUntil,
  workersOf,
  zombieChildrenOf,
} from '../helpers/proc.js';
import { assertNothingLeft, assertServedBy, childPid, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import type { SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let appUser: TestUser;
before(async () => {
  dir = await makeTempDir('sockvisor-contain-');
  appUser = createTestUser();
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(async () => {
  removeTestUser(appUser);
  await cleanupTempDirs();
});

/** Starts a request that keeps a uWSGI worker busy for `seconds`; its failure (the worker killed) is expected. */
function occupyWorker(socketPath: string, seconds: number): void {
  httpGetUnix(socketPath, `/sleep?s=${seconds}`, (seconds + 5) * 1000).catch(() => undefined);
}

/** Waits until the uWSGI master has a worker that is busy in a request. */
async function waitForBusyWorker(socketPath: string, master: number): Promise<void> {
  assert.ok(await waitUntil(() => workersOf(master).length >= 1, 10000), `uWSGI ${master} started no worker`);
  // The worker answers once the app is loaded; then a slow request pins it.
  assert.equal((await httpGetUnix(socketPath, '/')).status, 200);
  const worker = workersOf(master)[0]!;
  occupyWorker(socketPath, 30);
  assert.ok(await waitInSleep(worker, 5000), `the slow request did not reach uWSGI's worker ${worker}`);
}

/**
 * The seed's command line: uWSGI starts as root and switches to --uid/--gid itself, which clears
 * the parent-death signal sockvisor set (prctl(2)). Returns once the master runs as the app user.
 */
async function startUwsgiDroppingPrivileges(path: string): Promise<{ sv: SockvisorProcess; master: number }> {
  const sv = startSockvisor(['--', UWSGI, ...uwsgiArgs(['--http-socket', path, '--uid', appUser.name, '--gid', 'www-data'])]);
  const master = await childPid(sv);
  assert.ok(await waitUntil(() => uidOf(master) === appUser.uid, 10000), 'uWSGI did not switch to --uid');
  return { sv, master };
}

/** kill -9 of sockvisor; asserts that nothing of the master's process group is left a second later. */
async function killSockvisorAndExpectGroupGone(sv: SockvisorProcess, master: number): Promise<void> {
  process.kill(sv.pid, 'SIGKILL');
  await sv.exited;
  const gone = await waitUntil(() => processGroupMembers(master).length === 0, 1000);
  assert.ok(gone, `uWSGI outlived kill -9 of sockvisor: ${processGroupMembers(master).join(', ')} still in group ${master}`);
}

test('kill -9 of sockvisor takes down a uWSGI that dropped its own privileges (--uid/--gid), master and busy worker, within a second', async () => {
  const path = join(dir, 'uid.sock');
  const { sv, master } = await startUwsgiDroppingPrivileges(path);
  try {
    // A busy worker would not notice its master's death on its own (uWSGI checks between requests).
    await waitForBusyWorker(path, master);
    await killSockvisorAndExpectGroupGone(sv, master);
  } finally {
    killGroup(master);
  }
});

test('a sockvisor-guard killed by someone is replaced, and the child it protected is protected again', async () => {
  const { sv, master } = await startUwsgiDroppingPrivileges(join(dir, 'guard-restart.sock'));
  try {
    // The guard pins uWSGI's process group with a `sockvisor-pin` process of its own in it.
    const pinOf = (): number | undefined => processGroupMembers(master).find((pid) => commOf(pid) === 'sockvisor-pin');
    const firstPin = pinOf();
    const firstGuard = firstPin === undefined ? null : parentOf(firstPin);
    assert.ok(firstGuard !== null && commOf(firstGuard) === 'sockvisor-guard', 'no sockvisor-guard pinning the uWSGI group');
    process.kill(firstGuard, 'SIGKILL');
    await sv.waitFor((r) => r.event === 'guard.exited');
    const pinnedAgain = (): boolean => {
      const pin = pinOf();
      return pin !== undefined && pin !== firstPin && parentOf(pin) !== firstGuard;
    };
    assert.ok(await waitUntil(pinnedAgain, 2000), 'no new sockvisor-guard pinned the uWSGI group');
    await killSockvisorAndExpectGroupGone(sv, master);
  } finally {
    killGroup(master);
  }
});

test('kill -9 of the uWSGI master: its busy worker is gone within 2 s, reaped, and a new master serves', async () => {
  const path = join(dir, 'master.sock');
  const sv = startSockvisor(['--', UWSGI, ...uwsgiArgs(['--http-socket', path])]);
  const master = await childPid(sv);
  await waitForBusyWorker(path, master);
  const workers = workersOf(master);
  assert.ok(workers.length >= 1);
  process.kill(master, 'SIGKILL');
  const next = await childPid(sv, master);
  const answer = await httpGetUnix(path, '/');
  assert.equal(answer.status, 200, 'the new uWSGI does not serve');
  assertServedBy(answer.body, next, [master, ...workers]);
  assert.ok(
    await waitUntil(() => workers.every((pid) => !isAlive(pid)), 2000),
    `worker(s) of the killed master still alive: ${workers.filter(isAlive).join(', ')}`,
  );
  // Re-parented to sockvisor (a child subreaper) and reaped there: no zombie is left either.
  assert.ok(
    await waitUntil(() => zombieChildrenOf(sv.pid).length === 0, 1000),
    `zombies left under sockvisor: ${zombieChildrenOf(sv.pid).join(', ')}`,
  );
  assert.deepEqual(
    childrenOf(sv.pid).filter((pid) => workers.includes(pid)),
    [],
  );
  assert.ok(isAlive(next));
});

for (const namespace of ['pid1', 'below-pid1'] as const) {
  const where = namespace === 'pid1' ? 'as PID 1 of a pid namespace' : 'below the PID 1 of a pid namespace (a child subreaper)';
  test(`${where}: the busy worker of a killed uWSGI master is re-parented to sockvisor, killed and reaped; SIGTERM stops uWSGI and exits 0`, async () => {
    const path = join(dir, `ns-${namespace}.sock`);
    const sv = startSockvisor(['--', UWSGI, ...uwsgiArgs(['--http-socket', path])], { namespace });
    const localMaster = await childPid(sv);
    const self = await sv.sockvisorPid();
    // Pids in the log are the namespace's own; from here the master is sockvisor's uWSGI child.
    let master = 0;
    assert.ok(
      await waitUntil(() => (master = childrenOf(self).find((pid) => workersOf(pid).length >= 1) ?? 0) > 0, 10000),
      'no uWSGI master with a worker',
    );
    await waitForBusyWorker(path, master);
    const worker = workersOf(master)[0]!;
    process.kill(master, 'SIGKILL');
    assert.ok(
      await waitUntil(() => parentOf(worker) === self, 1000),
      `the orphaned worker went to ${parentOf(worker)}, not to sockvisor ${self}`,
    );
    // Killed after the grace period, then reaped: not even a zombie is left.
    assert.ok(
      await waitUntil(() => !existsInProc(worker), 3000),
      `worker ${worker} is still there (${isAlive(worker) ? 'alive' : 'a zombie'})`,
    );
    const nextLocal = await childPid(sv, localMaster);
    const answer = await httpGetUnix(path, '/');
    assert.equal(answer.status, 200);
    // The app names its master as the namespace sees it, as the log does.
    assert.match(answer.body, new RegExp(`^hello from uWSGI pid ${nextLocal} \\(worker \\d+\\)`), 'not answered by the new master');
    if (namespace === 'pid1')
      assert.ok(
        sv.records.some((r) => r.event === 'supervisor.pid1'),
        'no record of running as PID 1',
      );
    process.kill(self, 'SIGTERM');
    const { code } = await sv.exited;
    assert.equal(code, 0);
    assert.ok(
      sv.records.some((r) => r.event === 'child.exited' && r.signal === null),
      'uWSGI did not exit by itself on the stop signal',
    );
  });
}

test('as PID 1 of a pid namespace, sockvisor exits with the child status (--restart never)', async () => {
  const sv = startSockvisor(['-s', join(dir, 'pid1-status.sock'), '--restart', 'never', '--', 'sh', '-c', 'exit 7'], { namespace: 'pid1' });
  const { code } = await sv.exited;
  assert.equal(code, 7);
});
