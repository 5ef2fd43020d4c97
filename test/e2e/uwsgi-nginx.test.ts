// The seed's failures gone: real nginx (workers as www-data) -> sockvisor's socket -> real uWSGI,
// through repeated kill -9 of the uWSGI master; the seed's own uWSGI command line, unchanged.
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { environOf, identify, waitGone } from '../helpers/proc.js';
import { assertNothingLeft, childPid, killAndRequest, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let appUser: TestUser;
before(async () => {
  dir = await makeTempDir('sockvisor-e2e-');
  appUser = createTestUser();
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

test('behind sockvisor nginx gets 200, and still 200 with the same socket file after repeated kill -9 of the uWSGI master', async () => {
  const path = join(dir, 'run', 'app.sock');
  const sv = startSockvisor(['-s', path, '--socket-owner', `root:www-data`, '--socket-mode', '0660', '--', UWSGI, ...uwsgiArgs()]);
  await sv.waitFor((r) => r.event === 'socket.created');
  const nginx = await startNginx({ socketPath: path });
  let pid = await childPid(sv);
  const first = await httpGet(nginx.port, '/');
  assert.equal(first.status, 200);
  assert.match(first.body, /hello from uWSGI/);
  const before = identify(path);
  assert.deepEqual({ mode: before.mode, uid: before.uid, gid: before.gid }, { mode: 0o660, uid: 0, gid: 33 });
  assert.equal(statSync(join(dir, 'run')).mode & 0o7777, 0o755, 'the missing parent folder was not created 0755');

  for (let i = 0; i < 5; i++) {
    pid = await killAndRequest(sv, pid, () => httpGet(nginx.port, '/'));
    assert.deepEqual(identify(path), before, `the socket file changed after kill ${i + 1}`);
    // uWSGI is told its socket once, on its command line (fd://3), not a second time by LISTEN_FDS.
    assert.equal(environOf(pid).LISTEN_FDS, undefined);
  }
  assert.doesNotMatch(sv.otherLines.join('\n'), /SystemD socket activation detected|epoll_ctl\(\): File exists/);
  assert.doesNotMatch(await nginx.errorLogText(), /connect\(\) to unix:.* failed/);
  const { code } = await sv.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(await waitGone(pid, 5000));
});

test("the seed's own uWSGI command line works unchanged behind `sockvisor --`", async () => {
  const path = join(dir, 'seed', 'app.sock');
  // uwsgi -s PATH --chmod-socket=020 --uid U --gid www-data ...: sockvisor reads all of it.
  const seedArgs = uwsgiArgs(['-s', path, '--chmod-socket=020', '--uid', appUser.name, '--gid', 'www-data']);
  const sv = startSockvisor(['--', UWSGI, ...seedArgs]);
  const created = await sv.waitFor((r) => r.event === 'socket.created');
  assert.equal(created.path, path);
  const nginx = await startNginx({ socketPath: path });
  const pid = await childPid(sv);
  const response = await httpGet(nginx.port, '/');
  assert.equal(response.status, 200);
  const st = identify(path);
  assert.deepEqual({ mode: st.mode, uid: st.uid, gid: st.gid }, { mode: 0o020, uid: appUser.uid, gid: 33 });
  // uWSGI got the held socket, not the path: -s PATH became -s fd://3.
  const started = sv.records.find((r) => r.event === 'child.started')!;
  const argv = started.argv as string[];
  assert.equal(argv[argv.indexOf('-s') + 1], 'fd://3');
  await killAndRequest(sv, pid, () => httpGet(nginx.port, '/'));
  assert.deepEqual(identify(path), st);
});

test('an unprivileged user (no sudo) runs sockvisor with a 0666 socket in a folder of their own; nginx gets 200 through restarts', async () => {
  const home = join(dir, `home-${appUser.name}`);
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, appUser.uid, appUser.gid);
  const path = join(home, 'app.sock');
  const sv = startSockvisor(['-s', path, '--socket-mode', '0666', '--', UWSGI, ...uwsgiArgs()], { uid: appUser.uid, gid: appUser.gid });
  const created = await sv.waitFor((r) => r.event === 'socket.created');
  assert.equal(created.owner, appUser.name);
  assert.ok(
    sv.records.some((r) => r.event === 'config.warning' && /every local user/.test(r.msg)),
    'no warning about a world-writable socket',
  );
  const nginx = await startNginx({ socketPath: path });
  let pid = await childPid(sv);
  assert.equal((await httpGet(nginx.port, '/')).status, 200);
  const before = identify(path);
  assert.equal(before.uid, appUser.uid);
  assert.equal(before.mode, 0o666);
  for (let i = 0; i < 3; i++) pid = await killAndRequest(sv, pid, () => httpGet(nginx.port, '/'));
  assert.deepEqual(identify(path), before);
  const { code } = await sv.stop('SIGTERM');
  assert.equal(code, 0);
});

test("as root with no owner given, the socket goes to nginx's group and nginx gets 200", async () => {
  const path = join(dir, 'default-group.sock');
  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()]);
  const created = await sv.waitFor((r) => r.event === 'socket.created');
  assert.equal(created.group, 'www-data');
  assert.equal(created.mode, '0660');
  const nginx = await startNginx({ socketPath: path });
  await childPid(sv);
  assert.equal((await httpGet(nginx.port, '/')).status, 200);
});

test('a socket nginx cannot write gets a warning naming the fix', async () => {
  const path = join(dir, 'private.sock');
  const sv = startSockvisor(['-s', path, '--socket-owner', 'root:root', '--socket-mode', '0600', '--', UWSGI, ...uwsgiArgs()]);
  const warning = await sv.waitFor((r) => r.event === 'config.warning');
  assert.match(warning.msg, /nginx's user 'www-data' cannot write the socket/);
  assert.match(warning.msg, /--socket-group www-data/);
  const nginx = await startNginx({ socketPath: path });
  await childPid(sv);
  const response = await httpGet(nginx.port, '/');
  assert.equal(response.status, 502, 'the warning was right: nginx is refused');
  assert.match(await nginx.errorLogText(), /\(13: Permission denied\)/);
});
