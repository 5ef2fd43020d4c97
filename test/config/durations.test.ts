// Every number of `run` is bounded: a duration a timer cannot hold (2^31-1 ms) is refused, not
// turned into 1 ms by Node; counts are whole numbers in range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { checkCount, checkSeconds, MAX_SECONDS, MAX_TIMER_MS, planRun, type RunOptions } from '../../src/config/run-config.js';

function plan(options: Partial<RunOptions>) {
  const context = { cwd: '/srv/app', env: { PATH: '/usr/bin:/bin' }, preflight: false };
  return planRun({ socket: ['/run/app/app.sock'], command: ['sleep', '9'], ...options }, context);
}

test('a duration up to what a timer can hold is kept to the millisecond', () => {
  assert.equal(MAX_TIMER_MS, 2147483647);
  assert.equal(MAX_SECONDS, 2147483);
  assert.equal(checkSeconds(MAX_TIMER_MS / 1000, '--stop-timeout', 10), MAX_TIMER_MS);
  assert.equal(checkSeconds(0.05, '--restart-delay', 1), 50);
  assert.equal(checkSeconds(undefined, '--stop-timeout', 10), 10000);
  assert.equal(plan({ handoverTimeout: 2147483 }).handoverTimeoutMs, 2147483000);
  assert.equal(plan({ handoverTimeout: 2147483.647 }).handoverTimeoutMs, 2147483647);
  assert.equal(plan({ stopTimeout: 2147483.647 }).stopTimeoutMs, 2147483647);
});

test('a duration above 2^31-1 ms, negative, NaN or infinite is refused with the option and the limit named', () => {
  const refused = (options: Partial<RunOptions>, pattern: RegExp): void =>
    assert.throws(
      () => plan(options),
      (e: Error) => e instanceof UsageError && pattern.test(e.message),
      JSON.stringify(options),
    );
  const tooLong = /must be at most 2147483 seconds \(about 24\.8 days, the longest a timer can wait\)/;
  refused({ handoverTimeout: 3000000 }, new RegExp(`^--handover-timeout ${tooLong.source}, not '3000000'\\.$`));
  refused({ stopTimeout: 2147483.648 }, /^--stop-timeout must be at most 2147483 seconds/);
  refused({ readyAfter: 1e10 }, /^--ready-after must be at most/);
  refused({ restartDelay: 3000000 }, /^--restart-delay must be at most/);
  refused({ restartDelayMax: 3000000 }, /^--restart-delay-max must be at most/);
  refused({ healthyAfter: 3000000 }, /^--healthy-after must be at most/);
  refused({ giveUpAfter: 3000000 }, /^--give-up-after must be at most/);
  refused({ healthCheck: 'uwsgi:/', healthInterval: 3000000 }, /^--health-interval must be at most/);
  refused({ healthCheck: 'uwsgi:/', healthTimeout: 3000000 }, /^--health-timeout must be at most/);
  refused({ stopTimeout: Number.NaN }, /^--stop-timeout must be a number of seconds, written without a unit \(e\.g\. 10 or 0\.5\)\.$/);
  for (const bad of [-1, Infinity, -Infinity]) refused({ stopTimeout: bad }, /^--stop-timeout must be a number of seconds of 0 or more/);
  refused({ handoverTimeout: 0 }, /^--handover-timeout must be more than 0 seconds/);
  refused({ healthCheck: 'uwsgi:/', healthInterval: 0 }, /^--health-interval must be more than 0 seconds/);
});

test('counts are whole numbers in range', () => {
  assert.equal(checkCount(3, '--health-failures', 1, 10), 3);
  assert.equal(checkCount(undefined, '--health-failures', 1, 10), 1);
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 11]) {
    assert.throws(() => checkCount(bad, '--health-failures', 1, 10), /--health-failures must be a whole number from 1 to 10/);
  }
  assert.throws(() => plan({ socketBacklog: 2 ** 31 }), /--socket-backlog must be a whole number from 1 to 2147483647/);
  assert.throws(() => plan({ socketBacklog: 0 }), /--socket-backlog must be a whole number/);
  assert.equal(plan({ socketBacklog: 4 }).backlog, 4);
});

test('the health check: off by default, its settings defaulted, and refused alone', () => {
  assert.equal(plan({}).health, null);
  assert.deepEqual(plan({ healthCheck: 'uwsgi:/health?x=1' }).health, {
    protocol: 'uwsgi',
    path: '/health?x=1',
    intervalMs: 10000,
    timeoutMs: 5000,
    failures: 3,
  });
  assert.deepEqual(plan({ healthCheck: 'http:/', healthInterval: 2, healthTimeout: 0.5, healthFailures: 1 }).health, {
    protocol: 'http',
    path: '/',
    intervalMs: 2000,
    timeoutMs: 500,
    failures: 1,
  });
  assert.throws(() => plan({ healthFailures: 2 }), /^UsageError: --health-failures does nothing without --health-check/);
  for (const bad of ['uwsgi', 'ftp:/', 'uwsgi:health', 'http:/a b', '']) {
    assert.throws(() => plan({ healthCheck: bad }), /is not PROTOCOL:PATH/, bad);
  }
});
