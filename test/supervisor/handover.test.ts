import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  handoverStep,
  initialHandoverState,
  liveGenerations,
  type HandoverEvent,
  type HandoverState,
} from '../../src/supervisor/handover.js';

/** Runs events from a state, collecting every effect's type (with its generation where it has one). */
function run(state: HandoverState, events: HandoverEvent[]): { state: HandoverState; effects: string[] } {
  const effects: string[] = [];
  for (const event of events) {
    const step = handoverStep(state, event);
    state = step.state;
    for (const e of step.effects)
      effects.push('generation' in e ? `${e.type}:${e.generation}` : e.type === 'handed-over' ? `handed-over:${e.from}->${e.to}` : e.type);
  }
  return { state, effects };
}

const serving = run(initialHandoverState, [{ type: 'started', generation: 1 }]).state;

test('a reload starts a candidate; once it is ready it serves and the old one retires', () => {
  const { state, effects } = run(serving, [
    { type: 'reload' },
    { type: 'candidate-started', generation: 2 },
    { type: 'ready', generation: 2 },
  ]);
  assert.deepEqual(effects, ['start-candidate', 'retire:1', 'handed-over:1->2']);
  assert.deepEqual(state, { current: 2, candidate: null, retiring: [1], pending: false });
  const after = run(state, [{ type: 'exited', generation: 1 }]);
  assert.deepEqual(after.effects, ['retired:1'], 'the retired generation must not reach the restart policy');
  assert.deepEqual(liveGenerations(after.state), [2]);
});

test('the current generation becoming ready (first start, after a restart) is no handover', () => {
  assert.deepEqual(run(serving, [{ type: 'ready', generation: 1 }]).effects, []);
});

test('a candidate that exits before it is ready is dropped; the current one stays, no restart', () => {
  const { state, effects } = run(serving, [
    { type: 'reload' },
    { type: 'candidate-started', generation: 2 },
    { type: 'exited', generation: 2 },
  ]);
  assert.deepEqual(effects, ['start-candidate', 'handover-failed:2']);
  assert.deepEqual(state, { current: 1, candidate: null, retiring: [], pending: false });
});

test('a candidate not ready in time is aborted; its later exit is expected; a late READY changes nothing', () => {
  let { state, effects } = run(serving, [
    { type: 'reload' },
    { type: 'candidate-started', generation: 2 },
    { type: 'ready-timeout', generation: 2 },
  ]);
  assert.deepEqual(effects, ['start-candidate', 'abort:2', 'handover-failed:2']);
  ({ state, effects } = run(state, [
    { type: 'ready', generation: 2 },
    { type: 'exited', generation: 2 },
  ]));
  assert.deepEqual(effects, ['retired:2']);
  assert.equal(state.current, 1);
});

test('the current one crashing mid-handover: the candidate takes over at once, no restart', () => {
  let { state, effects } = run(serving, [
    { type: 'reload' },
    { type: 'candidate-started', generation: 2 },
    { type: 'exited', generation: 1 },
  ]);
  assert.deepEqual(effects, ['start-candidate', 'took-over-early']);
  assert.deepEqual(state, { current: 2, candidate: null, retiring: [], pending: false });
  // Its readiness timeout no longer applies: it is the current one now.
  ({ state, effects } = run(state, [{ type: 'ready-timeout', generation: 2 }]));
  assert.deepEqual(effects, []);
  // And its own crash later is an ordinary exit for the restart policy.
  assert.deepEqual(run(state, [{ type: 'exited', generation: 2 }]).effects, ['restart-policy:2']);
});

test('an exit of the current one outside a handover goes to the restart policy; a reload then starts at once', () => {
  const { state, effects } = run(serving, [{ type: 'exited', generation: 1 }, { type: 'reload' }]);
  assert.deepEqual(effects, ['restart-policy:1', 'start-now']);
  assert.equal(state.current, null);
});

test('a reload during a handover is queued and starts when that one is settled, success or failure', () => {
  const ok = run(serving, [
    { type: 'reload' },
    { type: 'candidate-started', generation: 2 },
    { type: 'reload' },
    { type: 'reload' },
    { type: 'ready', generation: 2 },
  ]);
  assert.deepEqual(ok.effects, ['start-candidate', 'reload-queued', 'reload-queued', 'retire:1', 'handed-over:1->2', 'start-candidate']);
  assert.equal(ok.state.pending, false);
  const failed = run(serving, [
    { type: 'reload' },
    { type: 'candidate-started', generation: 2 },
    { type: 'reload' },
    { type: 'exited', generation: 2 },
  ]);
  assert.deepEqual(failed.effects, ['start-candidate', 'reload-queued', 'handover-failed:2', 'start-candidate']);
});
