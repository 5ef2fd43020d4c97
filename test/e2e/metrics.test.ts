// --metrics: Prometheus text from a real sockvisor running real uWSGI behind nginx, scraped under a
// request loop, through a reload, a crash and a repair.
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet, loadLoop } from '../helpers/http.js';
import { freePort, startNginx, stopAllNginx } from '../helpers/nginx.js';
import { assertNothingLeft, childPid, runCli, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-metrics-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(cleanupTempDirs);

function get(port: number, path: string): Promise<{ status: number; type: string; body: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, ms: performance.now() - start }),
      );
    });
    req.on('error', reject).end();
  });
}

/** The samples of a Prometheus text: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await get(port, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/plain; version=0\.0\.4/);
  return samples(res.body);
}

test('a scrape under load: the child up and ready, the queue and backlog, a reload, a crash by its signal, a repair', async () => {
  const path = join(dir, 'app.sock');
  const port = await freePort();
  const sv = startSockvisor([
    '-s',
    path,
    '--socket-owner',
    'root:www-data',
    '--socket-backlog',
    '100',
    '--metrics',
    `127.0.0.1:${port}`,
    '--',
    UWSGI,
    ...uwsgiArgs(),
  ]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid, 15000, 'uWSGI to say READY=1');
  await sv.waitFor((r) => r.event === 'metrics.listening');
  const nginx = await startNginx({ socketPath: path });
  assert.equal((await httpGet(nginx.port, '/')).status, 200);
  const load = loadLoop(nginx.port);

  let m = await scrape(port);
  assert.equal(m.get('sockvisor_child_up'), 1);
  assert.equal(m.get('sockvisor_child_ready'), 1);
  assert.equal(m.get('sockvisor_generations{role="current"}'), 1);
  assert.equal(m.get(`sockvisor_socket_backlog{socket="${path}"}`), 100);
  const queued = m.get(`sockvisor_socket_queued{socket="${path}"}`);
  assert.ok(queued !== undefined && queued >= 0 && queued <= 101, `queued ${queued}`);
  assert.equal(m.get('sockvisor_handovers_total{result="done"}'), 0);
  assert.ok((m.get('process_resident_memory_bytes') ?? 0) > 0, 'no default process metrics');

  assert.equal((await runCli(['reload', path])).code, 0);
  m = await scrape(port);
  assert.equal(m.get('sockvisor_handovers_total{result="done"}'), 1);
  assert.equal(m.get('sockvisor_handover_duration_seconds_count{result="done"}'), 1);
  const took = m.get('sockvisor_handover_duration_seconds_sum{result="done"}')!;
  assert.ok(took > 0 && took < 30, `handover took ${took} s`);

  // Scrapes during the load stay quick (one sock_diag request per socket, nothing else).
  const times: number[] = [];
  for (let i = 0; i < 20; i++) times.push((await get(port, '/metrics')).ms);
  const results = await load.stop();
  assert.deepEqual(
    results.filter((r) => r.status !== 200),
    [],
    'non-2xx under load',
  );
  assert.ok(Math.max(...times) < 1000, `a scrape took ${Math.round(Math.max(...times))} ms`);

  const current = await childPid(sv, pid);
  process.kill(current, 'SIGKILL');
  const next = await childPid(sv, current);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === next, 15000, 'the restarted uWSGI');
  chmodSync(path, 0o666);
  await sv.waitFor((r) => r.event === 'socket.healed' && r.action === 'permissions-restored', 10000, 'the repair');
  m = await scrape(port);
  assert.equal(m.get('sockvisor_child_restarts_total{reason="SIGKILL"}'), 1);
  assert.equal(m.get('sockvisor_socket_repairs_total{kind="permissions-restored"}'), 1);
  assert.equal((await get(port, '/')).status, 404);
});

test('--metrics that is no address is refused before anything starts (exit 2)', async () => {
  const path = join(dir, 'bad.sock');
  for (const value of ['/run/metrics.sock', 'metrics.example:9101', '127.0.0.1:0']) {
    const { code, stderr } = await runCli(['-s', path, '--metrics', value, '--', '/bin/true']);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--metrics/);
  }
});
