// A hung child made visible: the health check replaces a uWSGI whose workers (or whole group) were
// SIGSTOPped, leaves a healthy one alone, and a held socket whose accept queue stays full is warned
// about. Real uWSGI, real signals, the queue as `ss -xl` shows it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { parseHealthCheck, probeBytes } from '../../src/health/probe.js';
import { httpGetUnix } from '../helpers/http.js';
import { isAlive, waitGone, waitUntil, workersOf } from '../helpers/proc.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import type { LogRecord, SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
/** every process a test SIGSTOPped: continued and killed in cleanup, whatever happened */
const stopped = new Set<number>();
before(async () => {
  dir = await makeTempDir('sockvisor-health-');
});
afterEach(async () => {
  for (const pid of stopped) {
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        if (isAlive(pid)) process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
  }
  stopped.clear();
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

const HEALTH = ['--health-interval', '1', '--health-timeout', '1', '--health-failures', '2', '--stop-timeout', '2'];

/** One GET / over a uwsgi-protocol socket: uWSGI answers with a plain HTTP response. */
function uwsgiGet(path: string, timeoutMs = 15000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    let data = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer on ${path} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write(probeBytes(parseHealthCheck('uwsgi:/'))));
    socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body });
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function stop(pids: number[]): void {
  for (const pid of pids) {
    stopped.add(pid);
    process.kill(pid, 'SIGSTOP');
  }
}

/** uWSGI behind sockvisor with the health check on, once a worker serves: its master and workers. */
async function startChecked(
  path: string,
  protocol: 'uwsgi' | 'http',
  extra: string[] = [],
): Promise<{ sv: SockvisorProcess; master: number; workers: number[] }> {
  const socketOption = protocol === 'uwsgi' ? '--socket' : '--http-socket';
  const sv = startSockvisor(['--health-check', `${protocol}:/`, ...extra, '-s', path, '--', UWSGI, ...uwsgiArgs([socketOption, path])]);
  const master = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === master);
  let workers: number[] = [];
  assert.ok(await waitUntil(() => (workers = workersOf(master)).length > 0, 10000), 'uWSGI started no worker');
  return { sv, master, workers };
}

const failuresOf = (sv: SockvisorProcess, pid: number): LogRecord[] =>
  sv.records.filter((r) => r.event === 'health.failed' && r.pid === pid);

test('a uWSGI whose workers are all SIGSTOPped is replaced after --health-failures failures, the hung processes killed', async () => {
  const path = join(dir, 'hung.sock');
  const { sv, master, workers } = await startChecked(path, 'uwsgi', HEALTH);
  assert.match((await uwsgiGet(path)).body, new RegExp(`hello from uWSGI pid ${master}`));
  stop(workers);
  const stoppedAt = Date.now();

  // 2 probes of at most 1 s each, 1 s apart: about 4 s; the margin is for a loaded machine.
  const replace = await sv.waitFor((r) => r.event === 'health.replace' && r.pid === master, 20000, 'the hung child to be replaced');
  assert.ok(Date.now() - stoppedAt < 20000);
  const failures = failuresOf(sv, master);
  assert.equal(failures.length, 2, failures.map((r) => r.msg).join('\n'));
  const where = path.replace(/[.]/g, '\\.');
  const second = `health check uwsgi:/ on ${where} of child ${master} failed \\(no answer within 1 s\\): 2 of 2 in a row`;
  assert.match(failures[1]!.msg, new RegExp(second));
  assert.match(replace.msg, new RegExp(`replacing the child: the child ${master} failed 2 health checks in a row`));
  assert.equal(replace.level, 40, 'a warning');

  const done = await sv.waitFor((r) => r.event === 'handover.done' && r.oldPid === master, 30000, 'the handover to a new child');
  const fresh = done.pid as number;
  assert.notEqual(fresh, master);
  const answer = await uwsgiGet(path);
  assert.equal(answer.status, 200);
  assert.match(answer.body, new RegExp(`hello from uWSGI pid ${fresh}`));

  // The old master drains, waits for its stopped workers, and its group gets SIGKILL after --stop-timeout (2 s).
  for (const pid of [master, ...workers]) assert.ok(await waitGone(pid, 15000), `the hung process ${pid} is still there`);
  const killed = sv.records.some((r) => r.event === 'child.drain-timeout' && r.pid === master);
  assert.ok(killed, 'the old child was not SIGKILLed after --stop-timeout');
  assert.equal(failuresOf(sv, fresh).length, 0, 'the new child failed a check');
});

test('a uWSGI stopped whole (master and workers) on an HTTP socket is replaced too', async () => {
  const path = join(dir, 'hung-http.sock');
  const { sv, master, workers } = await startChecked(path, 'http', HEALTH);
  assert.equal((await httpGetUnix(path, '/')).status, 200);
  stop([master, ...workers]);
  await sv.waitFor((r) => r.event === 'health.replace' && r.pid === master, 20000, 'the hung child to be replaced');
  assert.equal(failuresOf(sv, master).length, 2);
  const done = await sv.waitFor((r) => r.event === 'handover.done' && r.oldPid === master, 30000, 'the handover to a new child');
  const answer = await httpGetUnix(path, '/');
  assert.equal(answer.status, 200);
  assert.match(answer.body, new RegExp(`hello from uWSGI pid ${done.pid as number}`));
  for (const pid of [master, ...workers]) assert.ok(await waitGone(pid, 15000), `the stopped process ${pid} is still there`);
});

test('with the health check on, a healthy uWSGI is probed and never replaced', async () => {
  const path = join(dir, 'healthy.sock');
  const often = ['--log-level', 'debug', '--health-interval', '0.3', '--health-timeout', '2', '--health-failures', '1'];
  const { sv, master } = await startChecked(path, 'uwsgi', often);
  await sv.waitFor((r) => r.event === 'health.ok' && r.pid === master);
  await new Promise((r) => setTimeout(r, 4000));
  const oks = sv.records.filter((r) => r.event === 'health.ok' && r.pid === master).length;
  assert.ok(oks >= 4, `only ${oks} health checks answered in 4 s`);
  const unhealthy = new Set(['health.failed', 'health.replace', 'supervisor.reload']);
  assert.deepEqual(
    sv.records.filter((r) => unhealthy.has(r.event ?? '')),
    [],
  );
  assert.equal(sv.records.filter((r) => r.event === 'child.started').length, 1);
  assert.ok(isAlive(master));
});

/** Recv-Q and Send-Q of the listening socket at path, as `ss -xl` prints them. */
function ssQueue(path: string): { queued: number; backlog: number } {
  const line = execFileSync('ss', ['-xlnH'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.split(/\s+/).includes(path));
  assert.ok(line, `ss -xl does not list ${path}`);
  const [, , recvQ, sendQ] = line.trim().split(/\s+/);
  return { queued: Number(recvQ), backlog: Number(sendQ) };
}

test('a held socket whose accept queue stays full (a child that never accepts) is warned about, with the figures', async () => {
  const path = join(dir, 'full.sock');
  const sv = startSockvisor(['-s', path, '--socket-backlog', '4', '--ready-after', '0.1', '--', 'sleep', '120']);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready');
  const clients: Socket[] = [];
  try {
    // The kernel queues backlog + 1 connections; the next connect would get EAGAIN.
    for (let i = 0; i < 5; i++) {
      const client = createConnection({ path });
      clients.push(client);
      await once(client, 'connect');
    }
    assert.deepEqual(ssQueue(path), { queued: 5, backlog: 4 });
    const warning = await sv.waitFor((r) => r.event === 'queue.full', 20000, 'the full-queue warning');
    assert.equal(warning.level, 40);
    const { queued, backlog } = warning;
    assert.deepEqual({ path: warning.path, queued, backlog, pid: warning.pid }, { path, ...ssQueue(path), pid });
    const where = path.replace(/[.]/g, '\\.');
    const sentence = `the accept queue of ${where} has been full for \\d+ s \\(5 connections waiting, backlog 4\\): nobody accepts`;
    assert.match(warning.msg, new RegExp(sentence));
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(sv.records.filter((r) => r.event === 'queue.full').length, 1, 'the warning is not repeated at every sample');
  } finally {
    for (const c of clients) c.destroy();
  }
  // Connections closed by their clients still wait in the queue until accepted: only a child that
  // accepts drains it. None does here, so sockvisor's stop ends the test.
});

test('a probe sockvisor has no permission to make is not counted against the child: one warning, no replacement', async () => {
  const user = createTestUser();
  try {
    const own = join(dir, `own-${user.name}`);
    mkdirSync(own);
    chownSync(own, user.uid, user.gid);
    const path = join(own, 'app.sock');
    // 0060: the owner (sockvisor's own user) may not connect; its group may.
    const health = ['--health-check', 'http:/', '--health-interval', '0.3', '--health-failures', '1'];
    const args = ['-s', path, '--socket-mode', '0060', '--ready-after', '0.1', ...health, '--', 'sleep', '60'];
    const sv = startSockvisor(args, { uid: user.uid, gid: user.gid });
    const unusable = await sv.waitFor((r) => r.event === 'health.unusable', 15000, 'the health check to say it cannot connect');
    assert.match(unusable.msg, /could not reach child \d+ \(connect failed \(EACCES\)\): not counted against it/);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(sv.records.filter((r) => r.event === 'health.unusable').length, 1, 'said once');
    assert.deepEqual(
      sv.records.filter((r) => r.event === 'health.replace' || r.event === 'health.failed'),
      [],
    );
    await sv.stop();
  } finally {
    removeTestUser(user);
  }
});

test('a check no child answers (http: on a uwsgi socket) replaces the first child only, then says the check is likely wrong', async () => {
  const path = join(dir, 'mismatch.sock');
  const health = ['--health-check', 'http:/', '--health-interval', '0.5', '--health-timeout', '0.5', '--health-failures', '2'];
  const sv = startSockvisor([...health, '--stop-timeout', '2', '-s', path, '--', UWSGI, ...uwsgiArgs(['--socket', path])]);
  const first = await childPid(sv);
  await sv.waitFor((r) => r.event === 'health.replace' && r.pid === first, 20000, 'the first child to be replaced');
  const second = (await sv.waitFor((r) => r.event === 'handover.done', 30000, 'the handover')).pid as number;
  const hold = await sv.waitFor((r) => r.event === 'health.hold' && r.pid === second, 20000, 'the health check to hold');
  assert.equal(hold.level, 50);
  assert.match(hold.msg, /not replacing the child \d+: neither it nor the child it replaced ever answered the health check http:\/ on /);
  assert.match(hold.msg, /use uwsgi:\/PATH for uWSGI's --socket/);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(sv.records.filter((r) => r.event === 'child.started').length, 2, 'replaced again');
  assert.equal((await uwsgiGet(path)).status, 200, 'the app itself serves');
});
