import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeStatus, notifyMessage, watchdogIntervalMs } from '../../src/systemd/notify.js';
import type { SupervisorStatus } from '../../src/supervisor/child-supervisor.js';

const base: SupervisorStatus = { phase: 'starting', healthy: false, pid: 10, generation: 1, restarts: 0, childStatus: null };

test('READY=1 when the child is first ready, RELOADING=1 with MONOTONIC_USEC during a handover, READY=1 after, STOPPING=1', () => {
  const now = (): bigint => 123456789n;
  assert.equal(notifyMessage(null, base, now), 'STATUS=starting: pid 10, generation 1, 0 restarts');
  const ready = { ...base, phase: 'ready' as const, healthy: true, childStatus: 'uWSGI is ready' };
  assert.equal(notifyMessage(base, ready, now), 'READY=1\nSTATUS=ready: pid 10, generation 1, 0 restarts; child: uWSGI is ready');
  assert.equal(notifyMessage(ready, ready, now), null, 'nothing changed: nothing sent');
  const reloading = { ...ready, phase: 'reloading' as const };
  assert.equal(
    notifyMessage(ready, reloading, now),
    'RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=reloading: pid 10, generation 1, 0 restarts; child: uWSGI is ready',
  );
  const after = { ...ready, pid: 11, generation: 2 };
  assert.match(notifyMessage(reloading, after, now)!, /^READY=1\nSTATUS=ready: pid 11, generation 2/);
  assert.equal(notifyMessage(after, { ...after, phase: 'stopping' }, now), 'STOPPING=1\nSTATUS=stopping');
});

test('restarts are counted in STATUS; no child is said plainly', () => {
  assert.equal(
    describeStatus({ ...base, phase: 'restarting', pid: null, generation: null, restarts: 1 }),
    'restarting: no child running, 1 restart',
  );
});

test('the watchdog is answered at half of WATCHDOG_USEC, only when meant for this process', () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 5), 15000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '5' }, 5), 15000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '6' }, 5), null);
  assert.equal(watchdogIntervalMs({}, 5), null);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 5), null);
});
