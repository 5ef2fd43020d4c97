// The soak benchmark's short mode as a test: 100 kill -9 restarts of uWSGI, each leaving an
// orphaned worker, and sockvisor ends with as many open fds as it started with and no zombie.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { runSoak } from '../../bench/soak.js';
import { assertNothingLeft, stopAllSockvisors } from '../helpers/sockvisor.js';

afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});

test('100 kill -9 restarts of uWSGI (no backoff): no fd growth, no zombie, no worker left, the same socket', async () => {
  const [result] = await runSoak({ restarts: 100, settleMs: 1500 });
  assert.ok(result);
  assert.equal(result.after.fds, result.before.fds, `open fds went from ${result.before.fds} to ${result.after.fds}`);
  assert.equal(result.before.zombies, 0);
  assert.equal(result.after.zombies, 0, `${result.after.zombies} zombie children after the soak`);
  // sockvisor-guard and the current uWSGI master, nothing else
  assert.equal(result.after.children, result.before.children);
  assert.equal(result.leftovers, 0, `${result.leftovers} processes of killed masters are still alive`);
  assert.ok(result.sameSocket, 'the socket file was replaced');
});
