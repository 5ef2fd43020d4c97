// Servers other than uWSGI on the held sockets, for real: Debian's gunicorn (LISTEN_FDS, or --bind fd://{fd} on TCP),
// uvicorn (--fd {fd}) and a program that only knows LISTEN_FDS, each through kill -9.
// Their graceful handover on a reload is tested in server-handover.test.ts.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet, httpGetUnix } from '../helpers/http.js';
import { freePort } from '../helpers/nginx.js';
import { environOf, processGroupMembers, waitGone } from '../helpers/proc.js';
import {
  assertNothingLeft,
  childPid,
  killAndRequest,
  repoRoot,
  runSockvisor,
  startSockvisor,
  stopAllSockvisors,
  type SockvisorProcess,
} from '../helpers/sockvisor.js';
import { FIXTURES, GUNICORN, PYTHON } from '../helpers/servers.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-servers-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

/**
 * The server answers on the held socket; kill -9 of its main process; a request sent at once gets
 * 200 (it waits in the backlog for the next one, unless a worker the killed one left takes it
 * first), and once the killed one's workers are gone the next one answers; the socket file is the
 * same throughout, and sockvisor still finds it its own to remove on stop (the server never
 * unlinked it).
 */
async function survivesKill9(sv: SockvisorProcess, path: string, expected: RegExp): Promise<void> {
  let pid = await childPid(sv);
  const first = await httpGetUnix(path);
  assert.equal(first.status, 200);
  assert.match(first.body, expected);
  const inode = statSync(path).ino;
  for (let i = 0; i < 2; i++) {
    pid = await killAndRequest(sv, pid, () => httpGetUnix(path));
    assert.equal(statSync(path).ino, inode, 'the socket file changed');
  }
  assert.equal((await sv.stop('SIGTERM')).code, 0);
  assert.equal(sv.records.find((r) => r.event === 'socket.removed')?.removed, true, 'the server removed or replaced the socket file');
  assert.equal(existsSync(path), false);
}

test(
  'gunicorn adopts the held unix socket from LISTEN_FDS (no --bind) and serves through kill -9',
  { skip: !existsSync(GUNICORN) && 'Debian package gunicorn not installed' },
  async () => {
    const path = join(dir, 'gunicorn.sock');
    const sv = startSockvisor(['-s', path, '--', GUNICORN, '--workers', '1', '--chdir', join(repoRoot, 'examples'), 'app:application']);
    assert.equal(environOf(await childPid(sv)).LISTEN_FDS, '1');
    await survivesKill9(sv, path, /hello from uWSGI pid/); // examples/app.py names uWSGI whatever serves it
  },
);

test(
  'gunicorn --bind fd://{fd} serves on a held TCP socket, and leaves no worker behind after kill -9; on a unix socket it is refused (gunicorn would unlink it)',
  { skip: !existsSync(GUNICORN) && 'Debian package gunicorn not installed' },
  async () => {
    const port = await freePort();
    const gunicorn = [GUNICORN, '--bind', 'fd://{fd}', '--workers', '1', '--chdir', join(repoRoot, 'examples'), 'app:application'];
    const sv = startSockvisor(['-s', `127.0.0.1:${port}`, '--', ...gunicorn]);
    let pid = await childPid(sv);
    const argv = sv.records.find((r) => r.event === 'child.started')!.argv as string[];
    assert.equal(argv[argv.indexOf('--bind') + 1], 'fd://3');
    // Told its socket on the command line, gunicorn does not get LISTEN_FDS too: it would adopt fd 3
    // twice, closing it after the first (gunicorn/sock.py), and die with EBADF.
    assert.equal(environOf(pid).LISTEN_FDS, undefined);
    assert.equal((await httpGet(port)).status, 200);
    const workers = processGroupMembers(pid).filter((p) => p !== pid);
    assert.ok(workers.length > 0);
    process.kill(pid, 'SIGKILL');
    pid = await childPid(sv, pid);
    // Stopped within the orphans' grace time: the killed master's idle worker (it checks for its
    // master only between requests, or every 15 s; no request here, which it might take) must not
    // outlive sockvisor.
    assert.equal((await sv.stop('SIGTERM')).code, 0);
    for (const worker of workers) assert.ok(await waitGone(worker, 2000), `gunicorn worker ${worker} outlived sockvisor`);

    const refused = await runSockvisor(['-s', join(dir, 'bind.sock'), '--', ...gunicorn]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /makes gunicorn remove that file whenever it exits.*drop the --bind/);
    assert.equal(existsSync(join(dir, 'bind.sock')), false);
  },
);

test('uvicorn --fd {fd} serves on the held socket through kill -9', async () => {
  const path = join(dir, 'uvicorn.sock');
  const sv = startSockvisor([
    '-s',
    path,
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
  await survivesKill9(sv, path, /hello from uvicorn pid \d+/);
});

test('a program that reads only LISTEN_FDS gets a unix and a TCP socket, named in LISTEN_FDNAMES, through kill -9', async () => {
  const path = join(dir, 'generic.sock');
  const port = await freePort();
  const sv = startSockvisor(['-s', `web=${path}`, '-s', `health=127.0.0.1:${port}`, '--', PYTHON, join(FIXTURES, 'listen_fds_server.py')]);
  const pid = await childPid(sv);
  assert.deepEqual([environOf(pid).LISTEN_FDS, environOf(pid).LISTEN_FDNAMES], ['2', 'web:health']);
  assert.match((await httpGet(port)).body, /^health pid \d+/);
  await survivesKill9(sv, path, /^web pid \d+/);
});
