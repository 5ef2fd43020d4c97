// The seed's pitfalls, reproduced with real uWSGI and real nginx (workers as www-data) and no
// sockvisor, then gone with it: the two 502s, and the hand-made chmod lost at every restart.
import assert from 'node:assert/strict';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { assertNothingLeft, childPid, killAndRequest, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { startRawUwsgi, stopAllRawUwsgis, stopRawUwsgi, UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let oldUmask: number;

before(async () => {
  dir = await makeTempDir('sockvisor-seed-');
  oldUmask = process.umask(0o022); // a usual root shell
});
afterEach(async () => {
  await stopAllRawUwsgis();
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(async () => {
  process.umask(oldUmask);
  await cleanupTempDirs();
});

test('pitfall: uWSGI binds the socket 0755 root:root, so nginx as www-data gets 502 Permission denied; behind sockvisor, 200', async () => {
  const path = join(dir, 'perm.sock');
  const raw = await startRawUwsgi(path);
  assert.equal(statSync(path).mode & 0o777, 0o755, 'uWSGI did not bind with 0777 & ~umask');
  const nginx = await startNginx({ socketPath: path });
  const refused = await httpGet(nginx.port, '/');
  assert.equal(refused.status, 502);
  assert.match(await nginx.errorLogText(), new RegExp(`connect\\(\\) to unix:${path} failed \\(13: Permission denied\\)`));
  await stopRawUwsgi(raw);

  // The same uWSGI arguments behind sockvisor: the socket is 0660 root:www-data, nginx gets in.
  const sv = startSockvisor(['--', UWSGI, ...uwsgiArgs(['-s', path])]);
  await childPid(sv);
  const ok = await httpGet(nginx.port, '/');
  assert.equal(ok.status, 200);
  assert.match(ok.body, /hello from uWSGI pid \d+/);
  assert.equal(statSync(path).mode & 0o777, 0o660);
  assert.equal(statSync(path).gid, 33);
});

test('pitfall: nginx pointed at a path where no socket is gets 502 No such file or directory', async () => {
  const path = join(dir, 'missing', 'app.sock');
  const nginx = await startNginx({ socketPath: path });
  const response = await httpGet(nginx.port, '/');
  assert.equal(response.status, 502);
  assert.match(await nginx.errorLogText(), /\(2: No such file or directory\) while connecting to upstream/);

  // sockvisor makes the missing folder (0755) and the socket at exactly that path.
  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()]);
  await childPid(sv);
  assert.equal((await httpGet(nginx.port, '/')).status, 200);
  assert.equal(statSync(join(dir, 'missing')).mode & 0o777, 0o755);
});

test('pitfall: a chmod made by hand is lost when uWSGI restarts; behind sockvisor the socket file survives kill -9', async () => {
  const path = join(dir, 'restart.sock');
  let raw = await startRawUwsgi(path);
  chmodSync(path, 0o777); // the usual escape
  const nginx = await startNginx({ socketPath: path });
  assert.equal((await httpGet(nginx.port, '/')).status, 200);
  const fileBefore = statSync(path);
  process.kill(raw.pid!, 'SIGKILL');
  await stopRawUwsgi(raw);
  raw = await startRawUwsgi(path); // what a restart loop or systemd does
  const fileAfter = statSync(path);
  // A new file: the inode number may come back, the birth time does not.
  assert.notDeepEqual([fileAfter.ino, fileAfter.birthtimeMs], [fileBefore.ino, fileBefore.birthtimeMs], 'uWSGI reused the file');
  assert.equal(statSync(path).mode & 0o777, 0o755, 'the hand-made chmod survived');
  assert.equal((await httpGet(nginx.port, '/')).status, 502);
  await stopRawUwsgi(raw);

  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()]);
  let pid = await childPid(sv);
  const held = statSync(path);
  for (let i = 0; i < 3; i++) pid = await killAndRequest(sv, pid, () => httpGet(nginx.port, '/'));
  const after = statSync(path);
  assert.deepEqual(
    [after.ino, after.mode, after.uid, after.gid, after.birthtimeMs],
    [held.ino, held.mode, held.uid, held.gid, held.birthtimeMs],
  );
});
