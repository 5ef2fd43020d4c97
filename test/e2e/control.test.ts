// The control socket: `sockvisor status`, `reload` (which waits for the handover's outcome) and
// `stop`, asked of a real sockvisor running real uWSGI behind nginx (workers as www-data); refused
// to another user; and the queue figure checked against `ss -xl`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { closeFd } from '../../src/native.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';
import { httpGet, loadLoop } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { notifierCommand, setNotifierMode } from '../helpers/notifier.js';
import { pgrpOf, waitGone, waitUntil } from '../helpers/proc.js';
import {
  assertNothingLeft,
  childPid,
  cliPath,
  runCli,
  startSockvisor,
  stopAllSockvisors,
  type SockvisorProcess,
} from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let other: TestUser;
before(async () => {
  dir = await makeTempDir('sockvisor-control-');
  other = createTestUser('svc');
});
afterEach(async () => {
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(async () => {
  removeTestUser(other);
  await cleanupTempDirs();
});

interface StatusJson {
  socket: string;
  ok: boolean;
  pid: number;
  uptimeMs: number;
  supervisor: { phase: string; pid: number | null; generation: number | null };
  stats: {
    generations: { number: number; pid: number; role: string; readyAt: number | null; readyHow: string | null }[];
    restarts: number;
    exits: { generation: number; pid: number; reason: string; expected: boolean }[];
    exitsByReason: Record<string, number>;
    handovers: { done: number; abandoned: number; last: { result: string; reason: string; durationMs: number | null } | null };
    repairs: Record<string, number>;
  };
  sockets: { address: string; owner: string; group: string; mode: string; inode: number; queued: number; backlog: number }[];
}

async function statusJson(path: string): Promise<StatusJson> {
  const { code, stdout, stderr } = await runCli(['status', path, '--json']);
  assert.equal(code, 0, stderr);
  const all = JSON.parse(stdout) as StatusJson[];
  assert.equal(all.length, 1);
  return all[0]!;
}

async function readyUwsgi(path: string): Promise<{ sv: SockvisorProcess; pid: number }> {
  const sv = startSockvisor(['-s', path, '--socket-owner', 'root:www-data', '--', UWSGI, ...uwsgiArgs()]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid, 15000, 'uWSGI to say READY=1');
  return { sv, pid };
}

test('status shows the child, the socket and the history; reload waits for the new uWSGI under load; stop waits for the exit', async () => {
  const path = join(dir, 'app.sock');
  const control = join(dir, '.app.sock.sockvisor.ctl');
  const { sv, pid } = await readyUwsgi(path);
  const svPid = await sv.sockvisorPid();
  const ctl = lstatSync(control);
  assert.ok(ctl.isSocket());
  assert.equal(ctl.mode & 0o7777, 0o600, 'the control socket is not 0600');
  assert.equal(ctl.uid, 0);
  const nginx = await startNginx({ socketPath: path });
  assert.equal((await httpGet(nginx.port, '/')).status, 200);

  const human = await runCli(['status', path]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^${path}: sockvisor \\S+, pid ${svPid}, up \\d+s, ready\\n`));
  assert.match(human.stdout, new RegExp(`\\n  1 +${pid} +current +\\d+s ago +READY=1\\n`));
  assert.match(human.stdout, new RegExp(`\\n  ${path} +root:www-data +0660 +${statSync(path).ino} +0/\\d+\\n`));
  assert.match(human.stdout, /restarts: 0; handovers: 0 done, 0 abandoned/);

  const load = loadLoop(nginx.port);
  const reload = await runCli(['reload', path]);
  const answeredAt = Date.now();
  assert.equal(reload.code, 0, reload.stderr);
  // Answered only once the new uWSGI serves: sockvisor logged handover.done before the answer. The
  // record itself may reach this process's pipe a moment after the CLI's exit, so it is waited for
  // and its own time (pino's, Date.now() in sockvisor) compared with the answer's.
  const done = await sv.waitFor((r) => r.event === 'handover.done', 5000, 'handover.done');
  assert.ok(
    Number(done.time) <= answeredAt,
    `reload answered before the handover was done (done at ${done.time}, answered at ${answeredAt})`,
  );
  assert.match(reload.stdout, new RegExp(`^reloaded ${path}: child ${done.pid} serves \\(\\d+ ms\\)\\n$`));
  await sv.waitFor((r) => r.event === 'child.exited' && r.pid === pid, 15000, 'the old uWSGI to drain and exit');
  const results = await load.stop();
  assert.ok(results.length > 0);
  assert.deepEqual(
    results.filter((r) => r.status !== 200),
    [],
    'non-2xx during the reload',
  );

  const s = await statusJson(path);
  assert.equal(s.pid, svPid);
  assert.equal(s.supervisor.phase, 'ready');
  assert.equal(s.supervisor.pid, done.pid);
  assert.deepEqual(
    s.stats.generations.map((g) => [g.number, g.pid, g.role, g.readyHow]),
    [[2, done.pid, 'current', 'notified']],
  );
  assert.equal(s.stats.handovers.done, 1);
  assert.equal(s.stats.handovers.abandoned, 0);
  assert.equal(s.stats.handovers.last?.result, 'done');
  assert.ok((s.stats.handovers.last?.durationMs ?? -1) >= 0);
  assert.deepEqual(
    s.stats.exits.map((e) => [e.generation, e.pid, e.reason, e.expected]),
    [[1, pid, 'exited with code 0', true]],
  );
  assert.deepEqual(s.stats.exitsByReason, {});
  assert.equal(s.stats.restarts, 0);
  assert.equal(s.sockets.length, 1);
  const [k] = s.sockets;
  assert.deepEqual([k!.address, k!.owner, k!.group, k!.mode, k!.inode], [path, 'root', 'www-data', '0660', statSync(path).ino]);

  const stop = await runCli(['stop', path]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`stopped the sockvisor on ${path} \\(pid ${svPid}\\)`));
  assert.ok(
    sv.records.some((r) => r.event === 'supervisor.exit'),
    'stop returned before sockvisor exited',
  );
  assert.deepEqual(await sv.exited, { code: 0, signal: null });
  assert.equal(existsSync(control), false, 'the control socket was left behind');
  assert.equal(existsSync(path), false);
});

test('a crash is a restart with its reason in status; a reload whose child never gets ready, or exits, fails with the reason', async () => {
  const mode = join(dir, 'fail.mode');
  const path = join(dir, 'fail.sock');
  setNotifierMode(mode, 'ready');
  const sv = startSockvisor(['-s', path, '--handover-timeout', '3', '--restart-delay', '0.1', '--', ...notifierCommand(mode)]);
  const first = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === first);
  process.kill(first, 'SIGKILL');
  const second = await childPid(sv, first);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === second, 15000, 'the restarted child');
  let s = await statusJson(path);
  assert.equal(s.stats.restarts, 1);
  assert.deepEqual(
    s.stats.exits.map((e) => [e.pid, e.reason, e.expected]),
    [[first, 'was killed by SIGKILL', false]],
  );
  assert.deepEqual(s.stats.exitsByReason, { SIGKILL: 1 });
  // doctor says who holds the socket, and why it last restarted.
  const doctor = await runCli(['doctor', path, '--as', 'root']);
  assert.match(
    doctor.stdout,
    new RegExp(
      `\\n  sockvisor: pid ${s.pid} holds it; child ${second} serves \\(generation 2, ready\\); 1 restart; ` +
        'the last one was killed by SIGKILL, \\d+ s ago\\n',
    ),
  );
  const unheld = await runCli(['doctor', join(dir, 'nobody.sock'), '--as', 'root']);
  assert.doesNotMatch(unheld.stdout, /sockvisor:/);

  setNotifierMode(mode, 'hang');
  const hung = await runCli(['reload', path]);
  assert.equal(hung.code, 1);
  assert.equal(hung.stdout, '');
  assert.match(
    hung.stderr,
    new RegExp(
      '^sockvisor reload: handover abandoned: the new child of generation 3 was not ready within --handover-timeout; ' +
        `the current child ${second} keeps serving\\n$`,
    ),
  );

  setNotifierMode(mode, 'exit');
  const exited = await runCli(['reload', path]);
  assert.equal(exited.code, 1);
  assert.match(exited.stderr, /handover abandoned: the new child of generation 4 exited before it was ready \(exited with code 3\)/);
  s = await statusJson(path);
  assert.deepEqual([s.stats.handovers.done, s.stats.handovers.abandoned], [0, 2]);
  assert.equal(s.supervisor.pid, second, 'the current child changed');

  setNotifierMode(mode, 'ready');
  // restart is the same handover, waited for the same way.
  const restart = await runCli(['restart', path]);
  assert.equal(restart.code, 0, restart.stderr);
  assert.match(restart.stdout, /^reloaded \S+: child \d+ serves/);

  // A reload asked for during another one waits for its own handover, not the one under way.
  setNotifierMode(mode, 'slow:0.4');
  const earlier = runCli(['reload', path]);
  await sv.waitFor((r) => r.event === 'child.started' && r.role === 'candidate' && r.generation === 6, 5000, 'the first handover');
  const later = await runCli(['reload', path]);
  const earlierDone = await earlier;
  assert.deepEqual([earlierDone.code, later.code], [0, 0], earlierDone.stderr + later.stderr);
  const served = (out: string) => Number(/child (\d+) serves/.exec(out)?.[1]);
  const handedOver = sv.records.filter((r) => r.event === 'handover.done').map((r) => r.pid);
  assert.deepEqual([served(earlierDone.stdout), served(later.stdout)], handedOver.slice(-2));
  assert.ok(
    sv.records.some((r) => r.event === 'handover.queued'),
    'the second reload was not queued',
  );
  const stop = await runCli(['stop', path]);
  assert.equal(stop.code, 0);
  assert.deepEqual(await sv.exited, { code: 0, signal: null });
});

/** Runs the CLI as another user, as a shell of that user would (setpriv: its uid, gid, no extra groups). */
function cliAs(user: TestUser, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const argv = ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', process.execPath, cliPath, ...args];
    execFile('setpriv', argv, { cwd: '/' }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('another user gets nothing from the control socket: the file refuses it, and the peer check if the file is opened up', async () => {
  const mode = join(dir, 'users.mode');
  const path = join(dir, 'users.sock');
  const control = join(dir, '.users.sock.sockvisor.ctl');
  setNotifierMode(mode, 'ready');
  const sv = startSockvisor(['-s', path, '--socket-mode', '0666', '--', ...notifierCommand(mode)]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid);

  for (const command of ['status', 'reload', 'stop']) {
    const refused = await cliAs(other, [command, path]);
    assert.equal(refused.code, 4, `${command}: ${refused.stderr}`);
    assert.match(
      refused.stderr,
      new RegExp(`^sockvisor ${command}: permission denied on ${control}: only root and the user sockvisor runs as may ask it`),
    );
  }
  // Someone opens the file to everyone: the peer's uid is still checked on each connection.
  chmodSync(control, 0o666);
  for (const command of ['status', 'reload', 'stop']) {
    const refused = await cliAs(other, [command, path]);
    assert.equal(refused.code, 4, `${command}: ${refused.stderr}`);
    assert.match(refused.stderr, /permission denied: only root and uid 0 may ask this sockvisor/);
  }
  const logged = sv.records.filter((r) => r.event === 'control.refused');
  assert.equal(logged.length, 3);
  assert.equal(logged[0]!.uid, other.uid);
  assert.deepEqual(
    sv.records.filter((r) => r.event === 'supervisor.reload' || r.event === 'supervisor.stopping'),
    [],
  );
  assert.equal((await statusJson(path)).supervisor.pid, pid);
});

function allThreadsStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  });
}

/** Recv-Q and Send-Q of the listening socket at path, as `ss -xl` prints them. */
function ssQueue(path: string): Promise<{ recvQ: number; sendQ: number }> {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-xlnH'], { encoding: 'utf8' }, (error, out) => {
      if (error) return reject(error);
      const line = out.split('\n').find((l) => l.split(/\s+/).includes(path));
      if (!line) return reject(new Error(`ss -xl does not list ${path}`));
      const [, , recvQ, sendQ] = line.trim().split(/\s+/);
      resolve({ recvQ: Number(recvQ), sendQ: Number(sendQ) });
    });
  });
}

test('the queue status shows is what ss -xl shows: a stopped child and 5 pending connects', async () => {
  const mode = join(dir, 'queue.mode');
  const path = join(dir, 'queue.sock');
  setNotifierMode(mode, 'ready');
  const sv = startSockvisor(['-s', path, '--socket-backlog', '64', '--', ...notifierCommand(mode)]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid);
  const group = pgrpOf(pid)!;
  process.kill(-group, 'SIGSTOP');
  // Every thread stopped (the one blocked in accept() too) before the first connect.
  assert.ok(await waitUntil(() => allThreadsStopped(pid), 5000), 'the child did not stop');
  const clients: Socket[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const c = createConnection({ path });
      await once(c, 'connect');
      clients.push(c);
    }
    const [k] = (await statusJson(path)).sockets;
    const ss = await ssQueue(path);
    assert.deepEqual({ queued: k!.queued, backlog: k!.backlog }, { queued: 5, backlog: 64 });
    assert.deepEqual({ recvQ: ss.recvQ, sendQ: ss.sendQ }, { recvQ: 5, sendQ: 64 });
    const human = await runCli(['status', path]);
    assert.match(human.stdout, / 5\/64\n/);
  } finally {
    for (const c of clients) c.destroy();
    process.kill(-group, 'SIGCONT');
  }
});

test('bad input: no sockvisor, a stale control socket (replaced at the next start), a TCP address, no socket at all', async () => {
  const path = join(dir, 'none.sock');
  const none = await runCli(['status', path]);
  assert.equal(none.code, 3);
  assert.equal(
    none.stderr,
    `sockvisor status: no sockvisor runs on ${path}: there is no control socket ${join(dir, '.none.sock.sockvisor.ctl')} ` +
      '(is the path the one given to run -s?)\n',
  );
  const reload = await runCli(['reload', path]);
  assert.equal(reload.code, 3);

  // What a kill -9 leaves: a control socket file nobody listens on.
  const stalePath = join(dir, 'stale.sock');
  const staleControl = join(dir, '.stale.sock.sockvisor.ctl');
  closeFd(makeUnixSocket({ path: staleControl, uid: -1, gid: -1, mode: 0o600, backlog: 1 }).fd);
  const stale = await runCli(['stop', stalePath]);
  assert.equal(stale.code, 3);
  assert.match(stale.stderr, /its control socket \S+ is stale \(the sockvisor that made it is gone; the next start replaces it\)/);
  const mode = join(dir, 'stale.mode');
  setNotifierMode(mode, 'ready');
  const sv = startSockvisor(['-s', stalePath, '--', ...notifierCommand(mode)]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid);
  assert.equal((await statusJson(stalePath)).supervisor.pid, pid);

  const tcp = await runCli(['status', '127.0.0.1:9000']);
  assert.equal(tcp.code, 2);
  assert.match(tcp.stderr, /is the TCP address 127\.0\.0\.1:9000/);
  const noArg = await runCli(['reload'], { env: { SOCKVISOR_SOCKET: '' } });
  assert.equal(noArg.code, 2);
  assert.match(noArg.stderr, /sockvisor reload needs the socket path given to run/);

  const stop = await runCli(['stop', stalePath]);
  assert.equal(stop.code, 0);
  await sv.exited;
  assert.ok(await waitGone(pid, 5000));
});
