// SIGHUP is a handover: a new child on the same held socket, the old one drains once the new one is
// ready. Real nginx (workers as www-data), real uWSGI dropping to --uid, real signals; and a small
// sd_notify child (test/fixtures/notifier.py) for the ways a handover can fail.
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet, loadLoop } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { notifierCommand, setNotifierMode } from '../helpers/notifier.js';
import { environOf, inSleep, isAlive, waitGone, waitUntil, workersOf } from '../helpers/proc.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors, type SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let appUser: TestUser;
before(async () => {
  dir = await makeTempDir('sockvisor-handover-');
  appUser = createTestUser('svh');
});
afterEach(async () => {
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(async () => {
  removeTestUser(appUser);
  await cleanupTempDirs();
});

const events = (sv: SockvisorProcess, event: string) => sv.records.filter((r) => r.event === event);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGHUP hands over to a new uWSGI (1 s import, --uid): every request 200, none slower than 1 s, the one in flight finishes on the old one', async () => {
  const path = join(dir, 'app.sock');
  const sv = startSockvisor(
    [
      '-s',
      path,
      '--socket-owner',
      'root:www-data',
      '--',
      UWSGI,
      ...uwsgiArgs(['--processes', '2', '--uid', appUser.name, '--gid', appUser.name]),
    ],
    { env: { SLOW_IMPORT: '1' } },
  );
  const oldPid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === oldPid, 15000, 'the first uWSGI to say READY=1');
  const inode = statSync(path).ino;
  const nginx = await startNginx({ socketPath: path });
  assert.equal((await httpGet(nginx.port, '/')).status, 200);

  const inFlight = httpGet(nginx.port, '/sleep?s=2');
  const load = loadLoop(nginx.port);
  // In flight: one of the old uWSGI's workers is sleeping in the request.
  assert.ok(await waitUntil(() => workersOf(oldPid).some(inSleep), 5000), 'the slow request did not reach the old uWSGI');
  process.kill(sv.pid, 'SIGHUP');
  const newPid = await childPid(sv, oldPid);
  const done = await sv.waitFor((r) => r.event === 'handover.done', 15000, 'the handover');
  assert.equal(done.pid, newPid);
  const oldExit = await sv.waitFor((r) => r.event === 'child.exited' && r.pid === oldPid, 15000, 'the old uWSGI to exit');
  await sleep(300);
  const results = await load.stop();

  // uWSGI imports the app for 1 s: the old one served all that time, the new one took over.
  const slow = await inFlight;
  assert.equal(slow.status, 200);
  assert.match(slow.body, new RegExp(`pid ${oldPid} `), 'the request in flight was not finished by the old uWSGI');
  const bad = results.filter((r) => r.status !== 200);
  assert.deepEqual(bad, [], `non-2xx during the handover`);
  const worst = Math.max(...results.map((r) => r.latencyMs));
  assert.ok(worst < 1000, `a request took ${Math.round(worst)} ms: the app's import showed through`);
  assert.ok(
    results.some((r) => r.body.includes(`pid ${oldPid} `)) && results.at(-1)!.body.includes(`pid ${newPid} `),
    'the load did not move from the old to the new uWSGI',
  );
  // Drained, not killed: SIGPWR is uWSGI's graceful shutdown through the hook sockvisor adds, which
  // works after --uid drops privileges (a master FIFO would not).
  assert.equal(events(sv, 'child.drain-signal')[0]!.signal, 'SIGPWR');
  assert.equal(oldExit.code, 0);
  assert.deepEqual(events(sv, 'child.restart'), [], "the old uWSGI's exit reached the restart policy");
  assert.equal(statSync(path).ino, inode, 'the socket file changed');
  assert.doesNotMatch(await nginx.errorLogText(), /failed|upstream prematurely closed/);
  assert.equal((await httpGet(nginx.port, '/')).body.includes(`pid ${newPid} `), true);
});

/** One connection to the notifier's socket: the line it answers with ("notifier pid PID"). */
function askNotifier(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connect(path);
    s.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer on ${path} within 5 s`)));
  });
}

/** Asks three times; each answer must come from pid. */
async function assertServing(path: string, pid: number, when: string): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal(await askNotifier(path), `notifier pid ${pid}\n`, `not answered by ${pid} ${when}`);
}

test('a new child that is not ready in time, or exits, is dropped with the reason; the old one keeps serving', async () => {
  const control = join(dir, 'fail.mode');
  const path = join(dir, 'fail.sock');
  setNotifierMode(control, 'ready');
  const sv = startSockvisor(['-s', path, '--handover-timeout', '1', '--ready-after', '30', '--', ...notifierCommand(control)]);
  const oldPid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === oldPid);
  await assertServing(path, oldPid, 'before any handover');

  setNotifierMode(control, 'hang');
  process.kill(sv.pid, 'SIGHUP');
  const hung = await childPid(sv, oldPid);
  await assertServing(path, oldPid, 'while the new child was not ready');
  const timeout = await sv.waitFor((r) => r.event === 'handover.failed');
  assert.equal(timeout.reason, 'timeout');
  const stopped =
    `new child of generation 2 was not ready within 1 s \\(--handover-timeout\\) and is being stopped; ` +
    `the current child ${oldPid} keeps serving`;
  assert.match(timeout.msg, new RegExp(stopped));
  assert.ok(await waitGone(hung, 5000), 'the new child that never got ready was not stopped');
  await assertServing(path, oldPid, 'after the new child timed out');

  setNotifierMode(control, 'exit');
  process.kill(sv.pid, 'SIGHUP');
  await childPid(sv, hung);
  const exited = await sv.waitFor((r) => r.event === 'handover.failed' && r.reason === 'exited');
  assert.match(exited.msg, /exited with code 3 before it was ready/);
  await assertServing(path, oldPid, 'after the new child exited');

  assert.ok(isAlive(oldPid), 'the old child was touched');
  assert.deepEqual(events(sv, 'child.drain-signal'), [], 'the old child was told to drain');
  assert.deepEqual(events(sv, 'child.restart'), [], 'a dropped new child reached the restart policy');

  // And a good one still takes over afterwards; the old one gets the drain signal (here the stop signal).
  setNotifierMode(control, 'ready');
  process.kill(sv.pid, 'SIGHUP');
  const done = await sv.waitFor((r) => r.event === 'handover.done');
  const oldExit = await sv.waitFor((r) => r.event === 'child.exited' && r.pid === oldPid);
  assert.equal(oldExit.code, 0);
  assert.equal(events(sv, 'child.drain-signal')[0]!.signal, 'SIGTERM');
  await assertServing(path, done.pid as number, 'after the good handover');
});

test('the current child dying during a handover: the new one takes over at once, no extra restart', async () => {
  const control = join(dir, 'crash.mode');
  setNotifierMode(control, 'ready');
  const sv = startSockvisor(['-s', join(dir, 'crash.sock'), '--ready-after', '30', '--', ...notifierCommand(control)]);
  const oldPid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === oldPid);
  setNotifierMode(control, 'slow:1');
  process.kill(sv.pid, 'SIGHUP');
  const newPid = await childPid(sv, oldPid);
  process.kill(oldPid, 'SIGKILL');
  const early = await sv.waitFor((r) => r.event === 'handover.took-over-early');
  assert.equal(early.pid, newPid);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === newPid);
  assert.equal(events(sv, 'child.started').length, 2);
  assert.deepEqual(events(sv, 'child.restart'), []);
});

test('readiness: READY=1 forged by another user is ignored; a silent child is ready after --ready-after', async () => {
  const control = join(dir, 'forge.mode');
  const go = join(dir, 'forge.go');
  setNotifierMode(control, `wait:${go}`);
  const sv = startSockvisor(['-s', join(dir, 'forge.sock'), '--ready-after', '30', '--', ...notifierCommand(control)]);
  const pid = await childPid(sv);
  const address = environOf(pid).NOTIFY_SOCKET!;
  assert.match(address, /^@sockvisor\/\d+\/g1\/[0-9a-f]{16}$/);
  const { execFileSync } = await import('node:child_process');
  execFileSync(
    '/usr/bin/python3',
    ['-c', `import socket\nsocket.socket(socket.AF_UNIX,socket.SOCK_DGRAM).sendto(b'READY=1','\\0${address.slice(1)}')`],
    { uid: appUser.uid, gid: appUser.gid },
  );
  const rejected = await sv.waitFor((r) => r.event === 'notify.rejected');
  assert.equal(rejected.senderUid, appUser.uid);
  await sleep(200);
  assert.deepEqual(events(sv, 'child.ready'), [], 'a forged READY=1 was believed');
  writeFileSync(go, '');
  const ready = await sv.waitFor((r) => r.event === 'child.ready');
  assert.equal(ready.how, 'notified');

  const silent = startSockvisor(['-s', join(dir, 'silent.sock'), '--ready-after', '0.3', '--', 'sleep', '1000']);
  const started = Date.now();
  const silentReady = await silent.waitFor((r) => r.event === 'child.ready');
  assert.equal(silentReady.how, 'silent');
  assert.ok(Date.now() - started >= 250, 'a silent child was ready before --ready-after');
  assert.equal(existsSync(join(dir, 'silent.sock')), true);
});
