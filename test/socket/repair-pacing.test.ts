// The pace of self-healing, with the clock as an input: the backoff of timed re-checks, the token
// bucket of checks, and which repairs are logged at once and which are summed up later.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, CheckPacer, PACING, RepairLog } from '../../src/socket/repair-pacing.js';

test('timed re-checks: 200 ms, doubling to 2 s, and from 200 ms again once the path is right', () => {
  const backoff = new Backoff();
  const delays = Array.from({ length: 7 }, () => backoff.next());
  assert.deepEqual(delays, [200, 400, 800, 1600, 2000, 2000, 2000]);
  backoff.reset();
  assert.deepEqual([backoff.next(), backoff.next()], [200, 400]);
  // A cap that is not a power of two of the first delay is reached, not passed.
  const odd = new Backoff(150, 1000);
  assert.deepEqual(
    Array.from({ length: 5 }, () => odd.next()),
    [150, 300, 600, 1000, 1000],
  );
});

test('checks: a burst at once after a quiet time, then one per 1/rate; a wait spends nothing', () => {
  const pacer = new CheckPacer(0, 5, 100);
  // Five events at the same instant: all checked at once.
  assert.deepEqual(
    Array.from({ length: 5 }, () => pacer.take(0)),
    [0, 0, 0, 0, 0],
  );
  // The sixth waits 10 ms (100 per second), however often it asks meanwhile.
  assert.equal(pacer.take(0), 10);
  assert.equal(pacer.take(0), 10);
  assert.equal(pacer.take(4), 6);
  assert.equal(pacer.take(10), 0);
  assert.equal(pacer.take(10), 10);
  // A steady storm: one check per 10 ms, never more.
  let checks = 0;
  for (let now = 10; now < 1010; now++) if (pacer.take(now) === 0) checks++;
  assert.ok(checks >= 99 && checks <= 101, `${checks} checks in 1 s at 100 per second`);
});

test('checks: after a quiet time the bucket is full again, and never more than full', () => {
  const pacer = new CheckPacer(0, 3, 100);
  for (let i = 0; i < 3; i++) assert.equal(pacer.take(0), 0);
  assert.ok(pacer.take(0) > 0);
  // An hour of quiet refills it to the burst, not to 360,000.
  const later = 3_600_000;
  assert.deepEqual([pacer.take(later), pacer.take(later), pacer.take(later)], [0, 0, 0]);
  assert.equal(pacer.take(later), 10);
  // A clock that does not move forward (or goes back) gives no checks.
  assert.equal(pacer.take(later - 5), 10);
});

test('the defaults: the first repair after a quiet time is never delayed, and a storm is held to the documented rate', () => {
  const pacer = new CheckPacer(0);
  for (let i = 0; i < PACING.checkBurst; i++) assert.equal(pacer.take(0), 0);
  assert.equal(pacer.take(0), 1000 / PACING.checksPerSecond);
  // 1 s later (a quiet time for a socket at the documented rate), at once again.
  assert.equal(pacer.take(1000), 0);
});

test('repairs logged: the first at once, the next ones in the interval counted and summed up at its end', () => {
  const log = new RepairLog<string>(5000);
  assert.equal(log.nextDue(), null);
  assert.equal(log.note('app:chmod', 0, 'first'), true);
  // Nothing counted yet: no timer needed.
  assert.equal(log.nextDue(), null);
  for (let i = 1; i <= 1000; i++) assert.equal(log.note('app:chmod', i, `chmod ${i}`), false);
  assert.equal(log.nextDue(), 5000);
  assert.deepEqual(log.due(4999), []);
  assert.deepEqual(log.due(5000), [{ key: 'app:chmod', count: 1000, sinceMs: 5000, last: 'chmod 1000' }]);
  // The storm goes on: the next interval is counted too (no line per repair at the start of each).
  assert.equal(log.note('app:chmod', 6000, 'chmod again'), false);
  assert.equal(log.nextDue(), 10000);
  assert.deepEqual(log.due(10001), [{ key: 'app:chmod', count: 1, sinceMs: 5001, last: 'chmod again' }]);
  // A quiet interval ends quietly; the next repair after it is logged at once.
  assert.deepEqual(log.due(15001), []);
  assert.equal(log.nextDue(), null);
  assert.equal(log.note('app:chmod', 15002, 'after a quiet time'), true);
});

test('repairs logged: each socket and kind has its own interval; a late timer sums up all that is due', () => {
  const log = new RepairLog<string>(5000);
  assert.equal(log.note('app:chmod', 0, 'a'), true);
  assert.equal(log.note('app:rm', 1000, 'b'), true);
  assert.equal(log.note('other:chmod', 2000, 'c'), true);
  log.note('app:rm', 1500, 'b2');
  log.note('app:chmod', 3000, 'a2');
  assert.equal(log.nextDue(), 5000);
  // A repair counted after its interval ended, before the timer came: still in that summary.
  assert.equal(log.note('app:chmod', 5500, 'a3'), false);
  const due = log.due(7000);
  assert.deepEqual(due, [
    { key: 'app:chmod', count: 2, sinceMs: 7000, last: 'a3' },
    { key: 'app:rm', count: 1, sinceMs: 6000, last: 'b2' },
  ]);
  // other:chmod counted nothing: forgotten, its next repair logged at once.
  assert.equal(log.note('other:chmod', 7001, 'c2'), true);
});

test('repairs logged: on close, whatever was counted is summed up, nothing else', () => {
  const log = new RepairLog<string>(5000);
  log.note('app:chmod', 0, 'a');
  log.note('app:rm', 0, 'b');
  log.note('app:chmod', 100, 'a2');
  assert.deepEqual(log.flush(300), [{ key: 'app:chmod', count: 1, sinceMs: 300, last: 'a2' }]);
  assert.equal(log.nextDue(), null);
  assert.equal(log.note('app:chmod', 400, 'a3'), true);
});
