// RunStats: the figures status and /metrics report, from the supervisor's log entries (pure, by table).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appSocketPath, controlSocketPath } from '../../src/control/paths.js';
import { LAST_EXITS, RunStats, type HandoverOutcome } from '../../src/control/stats.js';

function clocked(): { stats: RunStats; advance: (ms: number) => void } {
  let now = 1_000_000;
  let mono = 0;
  const stats = new RunStats({ now: () => now, monotonic: () => mono });
  return { stats, advance: (ms) => ((now += ms), (mono += ms)) };
}

const exit = (code: number | null, signal: number | null = null) => ({ code, signal, uptimeMs: 1234.4 });

test('a start, a crash, a restart: generations, exits by reason and the restart count', () => {
  const { stats, advance } = clocked();
  stats.record({ what: 'started', pid: 10, argv: [], generation: 1, role: 'current' });
  advance(500);
  stats.record({ what: 'ready', pid: 10, generation: 1, how: 'notified' });
  let s = stats.snapshot();
  assert.deepEqual(s.generations, [
    { number: 1, pid: 10, role: 'current', startedAt: 1_000_000, readyAt: 1_000_500, readyHow: 'notified' },
  ]);
  stats.record({ what: 'exited', pid: 10, generation: 1, exit: exit(null, 9), expected: false });
  stats.record({ what: 'restart', delayMs: 0, quickExits: 1, restarts: 1 });
  stats.record({ what: 'started', pid: 11, argv: [], generation: 2, role: 'current' });
  s = stats.snapshot();
  assert.equal(s.restarts, 1);
  assert.deepEqual(s.restartsByReason, { SIGKILL: 1 });
  assert.deepEqual(
    s.generations.map((g) => [g.number, g.pid, g.readyAt]),
    [[2, 11, null]],
  );
  assert.deepEqual(s.exits, [
    { generation: 1, pid: 10, at: 1_000_500, reason: 'was killed by SIGKILL', code: null, signal: 9, uptimeMs: 1234, expected: false },
  ]);
  assert.deepEqual(s.exitsByReason, { SIGKILL: 1 });
});

test('a handover done: roles move, its duration counts from the ask, listeners hear it once', () => {
  const { stats, advance } = clocked();
  const heard: HandoverOutcome[] = [];
  stats.onHandover((o) => heard.push(o));
  stats.record({ what: 'started', pid: 10, argv: [], generation: 1, role: 'current' });
  stats.record({ what: 'reload', reason: 'SIGHUP' });
  assert.equal(stats.handoverUnderWay, true);
  stats.record({ what: 'started', pid: 20, argv: [], generation: 2, role: 'candidate' });
  assert.deepEqual(
    stats.snapshot().generations.map((g) => g.role),
    ['current', 'candidate'],
  );
  advance(300);
  stats.record({ what: 'ready', pid: 20, generation: 2, how: 'silent' });
  stats.record({ what: 'handed-over', pid: 20, generation: 2, oldPid: 10 });
  assert.deepEqual(
    stats.snapshot().generations.map((g) => [g.number, g.role, g.readyHow]),
    [
      [1, 'retiring', null],
      [2, 'current', 'silent'],
    ],
  );
  stats.record({ what: 'exited', pid: 10, generation: 1, exit: exit(0), expected: true });
  const s = stats.snapshot();
  assert.deepEqual([s.handovers.done, s.handovers.abandoned], [1, 0]);
  assert.deepEqual(heard, [{ result: 'done', reason: 'child 20 serves', durationMs: 300, at: 1_000_300, generation: 2 }]);
  assert.deepEqual(s.exitsByReason, {}, 'an exit asked for is no crash');
  assert.equal(stats.handoverUnderWay, false);
});

test('handovers abandoned: by timeout, by exit, by a spawn failure; repairs by kind; only the last exits kept', () => {
  const { stats } = clocked();
  stats.record({ what: 'reload', reason: 'x' });
  stats.record({ what: 'handover-failed', reason: 'timeout', generation: 2, pid: 10, exit: null });
  stats.record({ what: 'reload', reason: 'x' });
  stats.record({ what: 'handover-failed', reason: 'exited', generation: 3, pid: 10, exit: exit(3) });
  stats.record({ what: 'reload', reason: 'x' });
  stats.record({ what: 'candidate-spawn-failed' });
  const s = stats.snapshot();
  assert.deepEqual([s.handovers.done, s.handovers.abandoned], [0, 3]);
  assert.match(s.handovers.last!.reason, /could not be started/);
  stats.recordRepair('relinked');
  stats.recordRepair('relinked');
  stats.recordRepair('permissions-restored');
  assert.deepEqual(stats.snapshot().repairs, { relinked: 2, 'permissions-restored': 1 });
  for (let i = 0; i < LAST_EXITS + 3; i++) stats.record({ what: 'exited', pid: i, generation: i, exit: exit(1), expected: false });
  const t = stats.snapshot();
  assert.equal(t.exits.length, LAST_EXITS);
  assert.equal(t.exits[0]!.pid, 3);
  assert.equal(t.exitsTotal, LAST_EXITS + 3);
  assert.deepEqual(t.exitsByReason, { 'code 1': LAST_EXITS + 3 });
});

test('the control socket is a hidden name next to the app socket, and back', () => {
  assert.equal(controlSocketPath('/run/app/app.sock'), '/run/app/.app.sock.sockvisor.ctl');
  assert.equal(appSocketPath('/run/app/.app.sock.sockvisor.ctl'), '/run/app/app.sock');
  assert.equal(appSocketPath('/run/app/app.sock'), null);
  assert.equal(appSocketPath('/run/app/..sockvisor.ctl'), null);
});
