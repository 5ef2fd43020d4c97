// A reload of gunicorn and uvicorn is a graceful handover too: the new server starts on the held
// socket and becomes ready (gunicorn says READY=1 on NOTIFY_SOCKET; uvicorn says nothing and
// counts as ready after --ready-after), then the old one gets SIGTERM, which both take as "finish
// your requests and exit". Through nginx, under a request loop, with a slow request in flight.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet, loadLoop } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { workersOf } from '../helpers/proc.js';
import {
  assertNothingLeft,
  childPid,
  repoRoot,
  runCli,
  startSockvisor,
  stopAllSockvisors,
  type SockvisorProcess,
} from '../helpers/sockvisor.js';
import { FIXTURES, GUNICORN, PYTHON } from '../helpers/servers.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-server-handover-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(cleanupTempDirs);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A reload under load through nginx: every request 200, the slow one in flight answered by the old server. */
async function reloadsGracefully(sv: SockvisorProcess, path: string, how: 'notified' | 'silent'): Promise<void> {
  const oldPid = await childPid(sv);
  const ready = await sv.waitFor((r) => r.event === 'child.ready' && r.pid === oldPid, 20000, 'the first server to be ready');
  assert.equal(ready.how, how);
  const nginx = await startNginx({ socketPath: path, protocol: 'http' });
  assert.equal((await httpGet(nginx.port, '/')).status, 200);
  const oldServers = new Set([oldPid, ...workersOf(oldPid)]);

  const inFlight = httpGet(nginx.port, '/sleep?s=3', 30000);
  await sleep(1000);
  const load = loadLoop(nginx.port);
  const reload = await runCli(['reload', path]);
  assert.equal(reload.code, 0, reload.stderr);
  const newPid = (await sv.waitFor((r) => r.event === 'handover.done', 1000)).pid as number;
  assert.notEqual(newPid, oldPid);
  assert.equal(sv.records.find((r) => r.event === 'child.drain-signal')?.signal, 'SIGTERM');
  const oldExit = await sv.waitFor((r) => r.event === 'child.exited' && r.pid === oldPid, 30000, 'the old server to finish and exit');
  await sleep(300);
  const results = await load.stop();

  const slow = await inFlight;
  assert.equal(slow.status, 200, 'the request in flight did not complete');
  const servedBy = Number(/pid (\d+)/.exec(slow.body)?.[1]);
  assert.ok(
    oldServers.has(servedBy),
    `the request in flight was answered by ${servedBy}, not by the old server ${[...oldServers].join(', ')}`,
  );
  assert.equal(oldExit.code, 0, 'the old server did not exit cleanly on SIGTERM');
  assert.ok(results.length > 0);
  assert.deepEqual(
    results.filter((r) => r.status !== 200),
    [],
    'non-2xx during the handover',
  );
  assert.deepEqual(
    sv.records.filter((r) => r.event === 'child.restart'),
    [],
  );
  assert.doesNotMatch(await nginx.errorLogText(), /failed|upstream prematurely closed/);
  assert.equal((await sv.stop('SIGTERM')).code, 0);
  assert.equal(sv.records.find((r) => r.event === 'socket.removed')?.removed, true, 'the server removed or replaced the socket file');
}

test(
  'gunicorn: a reload starts a new arbiter (READY=1), then SIGTERM drains the old one: no request fails',
  { skip: !existsSync(GUNICORN) && 'Debian package gunicorn not installed' },
  async () => {
    const path = join(dir, 'gunicorn.sock');
    const sv = startSockvisor([
      '-s',
      path,
      '--socket-owner',
      'root:www-data',
      '--',
      GUNICORN,
      '--workers',
      '2',
      '--chdir',
      join(repoRoot, 'examples'),
      'app:application',
    ]);
    await reloadsGracefully(sv, path, 'notified');
  },
);

test('uvicorn: a reload starts a new one (ready after --ready-after), then SIGTERM drains the old one: no request fails', async () => {
  const path = join(dir, 'uvicorn.sock');
  const sv = startSockvisor([
    '-s',
    path,
    '--socket-owner',
    'root:www-data',
    '--ready-after',
    '2',
    '--',
    PYTHON,
    '-m',
    'uvicorn',
    '--fd',
    '{fd}',
    '--lifespan',
    'off',
    '--app-dir',
    FIXTURES,
    'asgi_app:app',
  ]);
  await reloadsGracefully(sv, path, 'silent');
});
