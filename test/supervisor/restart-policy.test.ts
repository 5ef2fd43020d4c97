import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decideRestart,
  defaultRestartPolicy,
  noStreak,
  validateRestartOptions,
  type RestartPolicyOptions,
} from '../../src/supervisor/restart-policy.js';
import type { ExitFacts } from '../../src/supervisor/restart-policy.js';

/** decideRestart with its streak carried from one exit to the next, as the lifecycle does. */
class RestartPolicy {
  #streak = noStreak;
  constructor(readonly options: RestartPolicyOptions) {}
  decide(exit: ExitFacts, now: number) {
    const { streak, decision } = decideRestart(this.options, this.#streak, exit, now);
    this.#streak = streak;
    return decision;
  }
}

const quick = (code = 1) => ({ code, signal: null, uptimeMs: 10 });

test('quick exits back off from the first delay, doubling, up to the maximum', () => {
  const policy = new RestartPolicy({ ...defaultRestartPolicy, giveUpAfterMs: 0 });
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    const d = policy.decide(quick(), i * 100);
    assert.equal(d.action, 'restart');
    if (d.action === 'restart') delays.push(d.delayMs);
  }
  assert.deepEqual(delays, [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
});

test('a healthy run restarts at once and resets the backoff', () => {
  const policy = new RestartPolicy(defaultRestartPolicy);
  policy.decide(quick(), 0);
  policy.decide(quick(), 100);
  assert.deepEqual(policy.decide({ code: null, signal: 9, uptimeMs: 5000 }, 6000), { action: 'restart', delayMs: 0, quickExits: 0 });
  assert.deepEqual(policy.decide(quick(), 6100), { action: 'restart', delayMs: 50, quickExits: 1 });
});

test('quick exits for longer than giveUpAfter give up, counting from the start of the first quick run', () => {
  const policy = new RestartPolicy({ ...defaultRestartPolicy, giveUpAfterMs: 1000 });
  assert.equal(policy.decide(quick(), 10).action, 'restart'); // the streak began at 0
  assert.equal(policy.decide(quick(), 500).action, 'restart');
  const last = policy.decide(quick(), 1000);
  assert.equal(last.action, 'give-up');
  if (last.action === 'give-up') assert.equal(last.quickExits, 3);
});

test('--restart never exits after any exit; on-failure only after a clean one', () => {
  assert.deepEqual(new RestartPolicy({ ...defaultRestartPolicy, mode: 'never' }).decide({ code: 1, signal: null, uptimeMs: 9e9 }, 0), {
    action: 'exit',
    reason: 'never',
  });
  const onFailure = new RestartPolicy({ ...defaultRestartPolicy, mode: 'on-failure' });
  assert.deepEqual(onFailure.decide({ code: 0, signal: null, uptimeMs: 9e9 }, 0), { action: 'exit', reason: 'clean-exit' });
  assert.equal(onFailure.decide({ code: null, signal: 15, uptimeMs: 9e9 }, 0).action, 'restart');
  assert.equal(onFailure.decide({ code: 2, signal: null, uptimeMs: 9e9 }, 0).action, 'restart');
});

test('a maximum delay below the first delay is refused', () => {
  assert.throws(() => validateRestartOptions({ ...defaultRestartPolicy, initialDelayMs: 2000, maxDelayMs: 1000 }), /--restart-delay-max/);
});
