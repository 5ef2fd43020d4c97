// --probe as a kubelet meets it: real uWSGI with a slow import, real kill -9, HTTP GETs of /ready and
// /live. /ready is 503 until the child says READY=1 and during a restart; /live never depends on it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet, httpGetUnix } from '../helpers/http.js';
import { assertNothingLeft, childPid, runSockvisor, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import type { SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-probes-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(async () => {
  await cleanupTempDirs();
});

/** The port sockvisor's probe server listens on (given as port 0: the kernel picks a free one). */
async function probePort(sv: SockvisorProcess): Promise<number> {
  const record = await sv.waitFor((r) => r.event === 'probe.listening', 15000, 'the probe server');
  return record.port as number;
}

/** Status code of GET path, 0 when the connection fails. */
async function probe(port: number, path: string): Promise<number> {
  try {
    return (await httpGet(port, path, 3000)).status;
  } catch {
    return 0;
  }
}

/** GETs /ready and /live every 25 ms until stop(); every status code seen, in order. */
function watchProbes(port: number): { stop: () => Promise<{ ready: number[]; live: number[] }> } {
  const ready: number[] = [];
  const live: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const [r, l] = await Promise.all([probe(port, '/ready'), probe(port, '/live')]);
      ready.push(r);
      live.push(l);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ready, live };
    },
  };
}

/** The distinct values of a sequence with repeats collapsed: [503, 503, 200] -> [503, 200]. */
function runs(values: number[]): number[] {
  return values.filter((v, i) => i === 0 || values[i - 1] !== v);
}

test('/ready is 503 while a slow app imports, then 200; after kill -9 it turns 503 then 200 while /live stays 200', async () => {
  const path = join(dir, 'slow.sock');
  // The app takes 1.5 s to import: uWSGI says READY=1 only after that, at start and after each restart.
  const args = ['--probe', '127.0.0.1:0', '-s', path, '--', UWSGI, ...uwsgiArgs(['--http-socket', path])];
  const sv = startSockvisor(args, { env: { SLOW_IMPORT: '1.5' } });
  const port = await probePort(sv);
  const first = watchProbes(port);
  await sv.waitFor((r) => r.event === 'child.ready', 20000, 'the first child to be ready');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const start = await first.stop();
  assert.deepEqual(runs(start.ready), [503, 200], `/ready while starting: ${start.ready.join(' ')}`);
  assert.ok(start.ready.filter((s) => s === 503).length >= 5, 'the 1.5 s import was not seen as not ready');
  assert.deepEqual(runs(start.live), [200]);
  assert.equal((await httpGetUnix(path, '/')).status, 200);

  const master = await childPid(sv);
  const during = watchProbes(port);
  await new Promise((resolve) => setTimeout(resolve, 100));
  process.kill(master, 'SIGKILL');
  const next = await childPid(sv, master);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === next, 20000, 'the restarted child to be ready');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const restart = await during.stop();
  assert.deepEqual(runs(restart.ready), [200, 503, 200], `/ready across kill -9: ${restart.ready.join(' ')}`);
  assert.deepEqual(runs(restart.live), [200], `/live across kill -9: ${restart.live.join(' ')}`);
  assert.ok(sv.proc.exitCode === null, 'sockvisor itself kept running');

  // A stop: the probe port is closed with the rest, and sockvisor exits 0.
  const { code } = await sv.stop('SIGTERM');
  assert.equal(code, 0);
  assert.equal(await probe(port, '/live'), 0, 'the probe port still answers after sockvisor exited');
});

test('--probe: a value that is no address, or a port taken, is refused with one sentence and exit 2, before any socket', async () => {
  const path = join(dir, 'refused.sock');
  const bad = await runSockvisor(['--probe', 'ready', '-s', path, '--', UWSGI, ...uwsgiArgs()]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--probe takes an address to answer HTTP probes on, not 'ready': give HOST:PORT/);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as { port: number };
  try {
    const busy = await runSockvisor(['--probe', `127.0.0.1:${port}`, '-s', path, '--', UWSGI, ...uwsgiArgs()]);
    assert.equal(busy.code, 2);
    assert.match(busy.stderr, new RegExp(`--probe cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): give a free port`));
    assert.ok(!existsSync(path), 'the socket was created although the run was refused');
    assert.ok(!busy.records.some((r) => r.event === 'child.started'), 'a child was started although the run was refused');
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});
