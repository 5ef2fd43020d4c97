// uWSGI configured by its own ini files behind sockvisor, for real: nginx (www-data) -> the socket
// the ini names -> uWSGI, through kill -9 of the master and uWSGI's own SIGHUP reload. uWSGI adopts
// the held socket by name and never binds, chmods or chowns it itself.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet } from '../helpers/http.js';
import { freePort, startNginx, stopAllNginx } from '../helpers/nginx.js';
import { environOf, identify } from '../helpers/proc.js';
import { assertNothingLeft, childPid, killAndRequest, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { APP, UWSGI } from '../helpers/uwsgi.js';

let dir: string;
let appUser: TestUser;
before(async () => {
  dir = await makeTempDir('sockvisor-ini-e2e-');
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

/** The small app of the other tests, as ini lines. */
const APP_LINES = ['plugin = python3', 'master = true', 'processes = 1', `wsgi-file = ${APP}`, 'need-app = true', 'disable-logging = true'];

function writeIni(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

test("uwsgi --ini app.ini: the ini's socket, chmod-socket, chown-socket, uid and gid are used; the socket survives kill -9 and uWSGI's SIGHUP reload untouched", async () => {
  const path = join(dir, 'ini', 'app.sock');
  const ini = writeIni('app.ini', [
    '[uwsgi]',
    ...APP_LINES,
    `socket = ${path}`,
    'chmod-socket = 020',
    `chown-socket = ${appUser.name}:www-data`,
    `uid = ${appUser.name}`,
    'gid = www-data',
    'vacuum = true',
  ]);
  const sv = startSockvisor(['--', UWSGI, '--ini', ini]);
  const created = await sv.waitFor((r) => r.event === 'socket.created');
  assert.deepEqual(
    { path: created.path, mode: created.mode, owner: created.owner, group: created.group },
    { path, mode: '0020', owner: appUser.name, group: 'www-data' },
  );
  const nginx = await startNginx({ socketPath: path });
  let pid = await childPid(sv);
  assert.equal((await httpGet(nginx.port)).status, 200);
  const before = identify(path);
  assert.deepEqual({ mode: before.mode, uid: before.uid, gid: before.gid }, { mode: 0o020, uid: appUser.uid, gid: 33 });
  await sv.waitForLines(new RegExp(`uwsgi socket 0 inherited UNIX address ${path} fd 3`));

  // uWSGI's own graceful reload (SIGHUP to its master): it re-reads app.ini and finds the socket again by name.
  process.kill(pid, 'SIGHUP');
  await sv.waitForLines(/inherited UNIX address/, 2);
  assert.equal((await httpGet(nginx.port)).status, 200);
  assert.deepEqual(identify(path), before, 'the socket file changed across the SIGHUP reload');
  for (let i = 0; i < 2; i++) {
    pid = await killAndRequest(sv, pid, () => httpGet(nginx.port));
    assert.deepEqual(identify(path), before, `the socket file changed after kill -9 number ${i + 1}`);
  }
  assert.equal(sv.otherLines.filter((l) => /bound to UNIX address/.test(l)).length, 0, 'uWSGI bound a unix socket itself');
  assert.doesNotMatch(await nginx.errorLogText(), /connect\(\) to unix:.* failed/);
  const { code } = await sv.stop('SIGTERM');
  assert.equal(code, 0);
  // vacuum = true did not remove it (uWSGI: "changed inode. Skip removal"): sockvisor did, as its own.
  assert.equal(sv.records.find((r) => r.event === 'socket.removed')?.removed, true);
  assert.equal(existsSync(path), false);
});

test("--ini FILE:SECTION, a uwsgi socket for nginx and an HTTP health socket on TCP, both held and passed with the ini's own options, through kill -9", async () => {
  const path = join(dir, 'prod', 'app.sock');
  const port = await freePort();
  const ini = writeIni('multi.ini', [
    '[uwsgi]',
    'socket = /nonexistent/never-read.sock',
    '[prod]',
    ...APP_LINES,
    `socket = ${path}`,
    `http-socket = 127.0.0.1:${port}`,
  ]);
  const sv = startSockvisor(['-s', `app=${path}`, '-s', `health=127.0.0.1:${port}`, '--', UWSGI, '--ini', `${ini}:prod`]);
  const nginx = await startNginx({ socketPath: path });
  let pid = await childPid(sv);
  const argv = sv.records.find((r) => r.event === 'child.started')!.argv as string[];
  assert.deepEqual([argv[argv.indexOf('--socket') + 1], argv[argv.indexOf('--http-socket') + 1]], ['fd://3', 'fd://4']);
  // Told once, on the command line: LISTEN_FDS would make uWSGI attach each socket a second time.
  assert.equal(environOf(pid).LISTEN_FDS, undefined);
  assert.equal((await httpGet(nginx.port)).status, 200);
  assert.equal((await httpGet(port)).status, 200, 'the health check over TCP');
  await sv.waitForLines(new RegExp(`inherited INET address 127\\.0\\.0\\.1:${port} fd 4`));
  pid = await killAndRequest(sv, pid, () => httpGet(port));
  assert.equal((await httpGet(nginx.port)).status, 200);
  assert.equal(existsSync('/nonexistent/never-read.sock'), false);
  assert.equal(sv.otherLines.filter((l) => /bound to (UNIX|TCP) address/.test(l)).length, 0, 'uWSGI bound a socket itself');
});

const DEBIAN_DEFAULT = '/usr/share/uwsgi/conf/default.ini';

test(
  "Debian's apps-enabled form: default.ini + the app's ini with UWSGI_DEB_*: /run/uwsgi/app/NAME/socket, www-data 0660, through kill -9",
  { skip: !existsSync(DEBIAN_DEFAULT) && 'the Debian package uwsgi (default.ini) is not installed' },
  async () => {
    const name = `svtest${process.pid}`;
    const runDirs = ['/run/uwsgi', '/run/uwsgi/app'].filter((d) => !existsSync(d));
    const appDir = `/run/uwsgi/app/${name}`;
    mkdirSync(join(dir, 'apps-enabled'), { recursive: true });
    const ini = writeIni(`apps-enabled/${name}.ini`, [
      '[uwsgi]',
      'plugins = python3',
      `wsgi-file = ${APP}`,
      'processes = 1',
      'need-app = true',
    ]);
    const sv = startSockvisor(['--', UWSGI, '--ini', DEBIAN_DEFAULT, '--ini', ini], {
      env: { UWSGI_DEB_CONFNAMESPACE: 'app', UWSGI_DEB_CONFNAME: name },
    });
    try {
      const path = `${appDir}/socket`;
      const created = await sv.waitFor((r) => r.event === 'socket.created');
      assert.deepEqual(
        { path: created.path, mode: created.mode, owner: created.owner, group: created.group },
        { path, mode: '0660', owner: 'www-data', group: 'www-data' },
      );
      const nginx = await startNginx({ socketPath: path });
      const pid = await childPid(sv);
      assert.equal((await httpGet(nginx.port)).status, 200);
      const before = identify(path);
      await killAndRequest(sv, pid, () => httpGet(nginx.port), true);
      assert.deepEqual(identify(path), before);
      assert.equal((await sv.stop('SIGTERM')).code, 0);
    } finally {
      // Stopped first (stop() is a no-op once it has exited): a sockvisor still running would heal
      // the folder removed below, and leave it under /run when an assertion above failed.
      await sv.stop('SIGTERM');
      // uWSGI's pid file is left in the folder sockvisor made; the folders this test caused go too.
      rmSync(appDir, { recursive: true, force: true });
      for (const d of runDirs.reverse()) if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
    }
  },
);
