import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFromChild, parseNotification } from '../../src/child/notify.js';

test("uWSGI's datagrams parse as sd_notify KEY=VALUE lines", () => {
  // Exactly what uWSGI 2.0.21 sends (core/notify.c), checked with a receiving socket.
  assert.deepEqual(parseNotification('STATUS=initializing uWSGI\n'), {
    ready: false,
    reloading: false,
    stopping: false,
    status: 'initializing uWSGI',
    fields: { STATUS: 'initializing uWSGI' },
  });
  const ready = parseNotification('STATUS=uWSGI is ready\nREADY=1\n');
  assert.equal(ready.ready, true);
  assert.equal(ready.status, 'uWSGI is ready');
  assert.equal(parseNotification('RELOADING=1\nMONOTONIC_USEC=5').reloading, true);
  assert.equal(parseNotification('STOPPING=1').stopping, true);
  assert.equal(parseNotification('READY=0\ngarbage\n=x').ready, false);
});

test('only the child or a process of its group is believed', () => {
  assert.ok(isFromChild({ pid: 100, pgid: 100 }, 100));
  assert.ok(isFromChild({ pid: 101, pgid: 100 }, 100), 'a worker in the group');
  assert.ok(!isFromChild({ pid: 555, pgid: 555 }, 100), 'another process');
  assert.ok(!isFromChild({ pid: 101, pgid: -1 }, 100), 'a sender already gone cannot be attributed');
  assert.ok(!isFromChild({ pid: -1, pgid: -1 }, 100), 'no credentials');
});
