// The child exactly as handed: fds 0-3, LISTEN_* with its own pid, its own process group,
// death with sockvisor, stop and restart behaviour, exec failures. Real processes throughout.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { environOf, isAlive, openFds, pgrpOf, processGroupMembers, waitGone, waitUntil } from '../helpers/proc.js';
import { assertNothingLeft, childPid, runSockvisor, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-child-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

test('the child holds exactly fds 0-3, fd 3 is the socket, and LISTEN_PID is its own pid', async () => {
  const path = join(dir, 'fds.sock');
  const sv = startSockvisor(['-s', `web=${path}`, '--', 'sleep', '1000']);
  const pid = await childPid(sv);
  const fds = openFds(pid);
  assert.deepEqual(
    [...fds.keys()].sort((a, b) => a - b),
    [0, 1, 2, 3],
  );
  assert.match(fds.get(3)!, /^socket:\[\d+\]$/);
  const env = environOf(pid);
  assert.equal(env.LISTEN_PID, String(pid));
  assert.equal(env.LISTEN_FDS, '1');
  assert.equal(env.LISTEN_FDNAMES, 'web');
  // Its own process group, so a stop can kill its workers with it.
  assert.equal(pgrpOf(pid), pid);
  const { code } = await sv.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(await waitGone(pid, 5000), 'the child survived the stop');
  assert.equal(existsSync(path), false, 'the socket file was not removed on stop');
});

test('kill -9 of sockvisor takes the child down (PR_SET_PDEATHSIG)', async () => {
  const path = join(dir, 'pdeath.sock');
  const sv = startSockvisor(['-s', path, '--', 'sleep', '1000']);
  const pid = await childPid(sv);
  assert.ok(isAlive(pid));
  process.kill(sv.pid, 'SIGKILL');
  await sv.exited;
  assert.ok(await waitGone(pid, 5000), `child ${pid} outlived sockvisor`);
});

test('a child that dies is restarted at once on the same socket, and the log says why', async () => {
  const path = join(dir, 'restart.sock');
  const sv = startSockvisor(['-s', path, '--', 'sleep', '1000']);
  const first = await childPid(sv);
  const inode = (await import('node:fs')).statSync(path).ino;
  await new Promise((r) => setTimeout(r, 1100)); // a healthy run
  process.kill(first, 'SIGKILL');
  const exitRecord = await sv.waitFor((r) => r.event === 'child.exited' && r.pid === first);
  assert.equal(exitRecord.signal, 'SIGKILL');
  assert.ok((exitRecord.uptimeMs as number) >= 1000);
  const restart = await sv.waitFor((r) => r.event === 'child.restart');
  assert.equal(restart.delayMs, 0, 'a healthy child is restarted without delay');
  const second = await childPid(sv, first);
  assert.notEqual(second, first);
  assert.equal((await import('node:fs')).statSync(path).ino, inode, 'the socket file changed across the restart');
  assert.equal(environOf(second).LISTEN_PID, String(second));
});

test('a child that keeps failing at once is given up on: exit 1 with a sentence, backoff in between', async () => {
  const path = join(dir, 'failing.sock');
  const started = Date.now();
  const result = await runSockvisor(['-s', path, '--give-up-after', '2', '--', 'sh', '-c', 'exit 3']);
  const elapsed = Date.now() - started;
  assert.equal(result.code, 1);
  const delays = result.records.filter((r) => r.event === 'child.restart').map((r) => r.delayMs as number);
  assert.ok(delays.length >= 3, `only ${delays.length} restarts`);
  assert.ok(delays[0]! <= 100, `first restart delay ${delays[0]} ms`);
  assert.ok(delays[2]! > delays[0]!, `no backoff: ${delays.join(', ')}`);
  const giveUp = result.records.find((r) => r.event === 'supervisor.giving-up');
  assert.ok(giveUp, 'no giving-up record');
  assert.match(giveUp.msg, /giving up/);
  assert.ok(elapsed < 15000, `took ${elapsed} ms`);
  assert.equal(existsSync(path), false, 'the socket file was left behind');
});

test('by default a child failing at once is given up on within about 30 s', async () => {
  const started = Date.now();
  const result = await runSockvisor(['-s', join(dir, 'default-giveup.sock'), '--', 'false']);
  const elapsed = Date.now() - started;
  assert.equal(result.code, 1);
  assert.ok(elapsed > 20000 && elapsed < 45000, `gave up after ${elapsed} ms`);
});

test('--restart never: sockvisor exits with the child status; on-failure: a clean exit ends it with 0', async () => {
  const never = await runSockvisor(['-s', join(dir, 'never.sock'), '--restart', 'never', '--', 'sh', '-c', 'exit 7']);
  assert.equal(never.code, 7);
  assert.equal(never.records.filter((r) => r.event === 'child.started').length, 1);
  const onFailure = await runSockvisor(['-s', join(dir, 'onfail.sock'), '--restart', 'on-failure', '--', 'true']);
  assert.equal(onFailure.code, 0);
  assert.equal(onFailure.records.filter((r) => r.event === 'child.started').length, 1);
});

test('a child ignoring the stop signal gets SIGKILL after --stop-timeout, with its whole group', async () => {
  const path = join(dir, 'stubborn.sock');
  // The shell ignores TERM and starts a grandchild in the same group.
  const sv = startSockvisor(['-s', path, '--stop-timeout', '1', '--', 'sh', '-c', "trap '' TERM; sleep 1000 & wait"]);
  const pid = await childPid(sv);
  // The grandchild runs once the shell has set its trap: the whole group is there to be stopped.
  let group: number[] = [];
  assert.ok(await waitUntil(() => (group = processGroupMembers(pid)).length >= 2, 5000), 'the shell did not start its grandchild');
  const started = Date.now();
  const { code } = await sv.stop('SIGTERM');
  const elapsed = Date.now() - started;
  assert.equal(code, 0);
  assert.ok(elapsed >= 900 && elapsed < 5000, `stopped after ${elapsed} ms`);
  assert.ok(sv.records.some((r) => r.event === 'child.stop-timeout'));
  for (const member of group) assert.ok(await waitGone(member, 3000), `${member} of the child's group outlived the stop`);
});

test('COMMAND not found exits 127 and not executable exits 126, each with a sentence, leaving no socket', async () => {
  const path = join(dir, 'exec.sock');
  const missing = await runSockvisor(['-s', path, '--', 'no-such-server-xyz']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /'no-such-server-xyz' was not found in PATH/);
  const plain = join(dir, 'plain.txt');
  writeFileSync(plain, 'not a program\n', { mode: 0o644 });
  const notExec = await runSockvisor(['-s', path, '--', plain]);
  assert.equal(notExec.code, 126);
  assert.match(notExec.stderr, /not an executable file: check its permissions \(chmod \+x\)/);
  // Executable bits but no #! line and no ELF header: only execve() can tell (ENOEXEC).
  const noShebang = join(dir, 'no-shebang');
  writeFileSync(noShebang, 'just text\n', { mode: 0o755 });
  const badFormat = await runSockvisor(['-s', path, '--', noShebang]);
  assert.equal(badFormat.code, 126);
  assert.match(badFormat.stderr, /could not be executed \(ENOEXEC\)/);
  assert.equal(existsSync(path), false);
});
