// Stopping for real: nothing of the child's process group survives a stop, a hung child is killed
// after --stop-timeout or at once on a second stop request, and job signals reach the child.
// Real uWSGI, real shells, real signals.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGetUnix } from '../helpers/http.js';
import { processGroupMembers, waitInSleep, waitUntil, workersOf } from '../helpers/proc.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors, type SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-stop-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

/** uWSGI (master + 1 worker) behind sockvisor, once its worker answers; returns the master's pid. */
async function startUwsgi(path: string, extra: string[] = []): Promise<{ sv: SockvisorProcess; master: number; worker: number }> {
  const sv = startSockvisor([...extra, '--', UWSGI, ...uwsgiArgs(['--http-socket', path])]);
  const master = await childPid(sv);
  let worker = 0;
  assert.ok(await waitUntil(() => (worker = workersOf(master)[0] ?? 0) > 0, 10000), 'uWSGI started no worker');
  assert.equal((await httpGetUnix(path, '/')).status, 200);
  return { sv, master, worker };
}

/** Stops sockvisor with signal and measures how long it takes to exit. */
async function timedStop(sv: SockvisorProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; elapsedMs: number }> {
  const started = Date.now();
  const { code } = await sv.stop(signal);
  return { code, elapsedMs: Date.now() - started };
}

test('a child ignoring SIGINT is SIGKILLed with its whole process group after --stop-timeout', async () => {
  // The shell and both sleeps ignore INT (an ignored signal stays ignored across fork and exec).
  const sv = startSockvisor([
    '-s',
    join(dir, 'ignore-int.sock'),
    '--stop-signal',
    'SIGINT',
    '--stop-timeout',
    '1',
    '--',
    'sh',
    '-c',
    "trap '' INT; sleep 1000 & sleep 1000 & wait",
  ]);
  const pid = await childPid(sv);
  assert.ok(await waitUntil(() => processGroupMembers(pid).length >= 3, 5000), 'the shell started no grandchildren');
  const { code, elapsedMs } = await timedStop(sv, 'SIGTERM');
  assert.equal(code, 0);
  assert.ok(elapsedMs >= 900 && elapsedMs < 4000, `stopped after ${elapsedMs} ms`);
  assert.ok(sv.records.some((r) => r.event === 'child.stop-timeout'));
  assert.deepEqual(processGroupMembers(pid), [], 'part of the child group outlived sockvisor');
});

test('a hung uWSGI master is SIGKILLed with its workers after --stop-timeout; nothing is left when sockvisor exits', async () => {
  const { sv, master, worker } = await startUwsgi(join(dir, 'hung.sock'), ['--stop-timeout', '1']);
  process.kill(master, 'SIGSTOP'); // a master that no longer handles signals: the stop signal waits forever
  const { code, elapsedMs } = await timedStop(sv);
  assert.equal(code, 0);
  assert.ok(elapsedMs >= 900 && elapsedMs < 4000, `stopped after ${elapsedMs} ms`);
  assert.deepEqual(processGroupMembers(master), [], `uWSGI outlived the stop (worker ${worker})`);
});

test('a second SIGTERM during a stop kills a hung uWSGI and its workers at once, not after --stop-timeout', async () => {
  const { sv, master } = await startUwsgi(join(dir, 'escalate.sock'));
  process.kill(master, 'SIGSTOP');
  const started = Date.now();
  process.kill(sv.pid, 'SIGTERM');
  await sv.waitFor((r) => r.event === 'child.stop-signal');
  process.kill(sv.pid, 'SIGINT');
  const { code } = await sv.exited;
  const elapsedMs = Date.now() - started;
  assert.equal(code, 0);
  assert.ok(elapsedMs < 3000, `took ${elapsedMs} ms: the default --stop-timeout (10 s) was waited out`);
  assert.ok(sv.records.some((r) => r.event === 'supervisor.escalate'));
  assert.deepEqual(processGroupMembers(master), []);
});

test('a stop while a uWSGI worker is busy leaves no worker behind', async () => {
  const path = join(dir, 'busy.sock');
  const { sv, master, worker } = await startUwsgi(path);
  httpGetUnix(path, '/sleep?s=30', 35000).catch(() => undefined);
  assert.ok(await waitInSleep(worker, 5000), `the slow request did not reach uWSGI's worker ${worker}`);
  const { code } = await timedStop(sv);
  assert.equal(code, 0);
  assert.deepEqual(processGroupMembers(master), [], `worker ${worker} outlived the stop`);
});

test('job signals (USR1, USR2, TTIN, TTOU, WINCH) reach the child; SIGQUIT stops it with the stop signal', async () => {
  const seen = join(dir, 'signals.txt');
  writeFileSync(seen, '');
  // The shell runs a trap once its current command ends: short sleeps keep it responsive.
  const traps = ['USR1', 'USR2', 'TTIN', 'TTOU', 'WINCH'].map((name) => `trap 'echo ${name} >> ${seen}' ${name};`).join(' ');
  const script = `${traps} trap 'echo TERM >> ${seen}; exit 0' TERM; echo ready >> ${seen}; while :; do sleep 0.05; done`;
  const sv = startSockvisor(['-s', join(dir, 'signals.sock'), '--', 'sh', '-c', script]);
  await childPid(sv);
  const lines = (): string[] => readFileSync(seen, 'utf8').split('\n').filter(Boolean);
  assert.ok(await waitUntil(() => lines().includes('ready'), 5000), 'the child script did not start');
  for (const name of ['SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH'] as const) {
    process.kill(sv.pid, name);
    assert.ok(
      await waitUntil(() => lines().includes(name.slice(3)), 3000),
      `${name} did not reach the child; it saw: ${lines().join(', ')}`,
    );
  }
  const { code } = await timedStop(sv, 'SIGQUIT');
  assert.equal(code, 0);
  assert.equal(lines().at(-1), 'TERM', 'the child did not get the stop signal (SIGTERM for a non-uWSGI command)');
});

test("a stop right after kill -9 of the uWSGI master also ends the old master's busy worker, without waiting out its grace", async () => {
  const path = join(dir, 'orphan-stop.sock');
  const { sv, master, worker } = await startUwsgi(path);
  httpGetUnix(path, '/sleep?s=30', 35000).catch(() => undefined);
  assert.ok(await waitInSleep(worker, 5000), `the slow request did not reach uWSGI's worker ${worker}`);
  process.kill(master, 'SIGKILL');
  await sv.waitFor((r) => r.event === 'child.exited' && r.pid === master);
  const { code, elapsedMs } = await timedStop(sv);
  assert.equal(code, 0);
  assert.deepEqual(processGroupMembers(master), [], `the orphaned worker ${worker} outlived the stop`);
  assert.ok(elapsedMs < 3000, `stopped after ${elapsedMs} ms`);
});
