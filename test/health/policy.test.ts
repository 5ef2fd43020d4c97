// The health check's and the queue watch's pure parts: counting failures, the full-queue warning,
// and the bytes of a probe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialTally, tallyProbe } from '../../src/health/checker.js';
import { parseHealthCheck, probeBytes, uwsgiPacket } from '../../src/health/probe.js';
import { FULL_SAMPLES, initialQueueState, queueStep, REPEAT_WARNING_MS, type QueueState } from '../../src/health/queue-watch.js';

test('the child is replaced after `limit` failures in a row of the same child, and only then', () => {
  let tally = initialTally;
  const step = (pid: number, ok: boolean): boolean => {
    const r = tallyProbe(tally, pid, ok, 3);
    tally = r.tally;
    return r.action === 'replace';
  };
  assert.equal(step(10, true), false);
  assert.equal(step(10, false), false);
  assert.equal(step(10, false), false);
  assert.equal(step(10, true), false, 'an answer resets the count');
  assert.equal(step(10, false), false);
  assert.equal(step(10, false), false);
  assert.equal(step(11, false), false, 'a new child starts from 0');
  assert.equal(step(11, false), false);
  assert.equal(step(11, false), true);
  assert.equal(tally.failures, 0, 'counted anew after a replacement');
  assert.equal(tallyProbe(initialTally, 1, false, 1).action, 'replace', 'a child hung from its start is replaced once');
});

test('a second child in a row that never answered is held, not replaced again, until some child answers', () => {
  let tally = initialTally;
  const step = (pid: number, ok: boolean): string => {
    const r = tallyProbe(tally, pid, ok, 2);
    tally = r.tally;
    return r.action;
  };
  assert.deepEqual([step(1, false), step(1, false)], ['none', 'replace']);
  assert.deepEqual([step(2, false), step(2, false)], ['none', 'hold']);
  assert.deepEqual([step(2, false), step(2, false)], ['none', 'hold'], 'said again after each `limit` failures, still held');
  const answeredThenHung = [step(2, true), step(2, false), step(2, false)];
  assert.deepEqual(answeredThenHung, ['none', 'none', 'replace'], 'a child that answered once and then hangs is replaced');
  assert.deepEqual([step(3, false), step(3, false)], ['none', 'replace'], 'after an answer, a child hung from its start is replaced again');
});

test('the full-queue warning: after FULL_SAMPLES full samples in a row, repeated at most every minute, then drained', () => {
  const full = { queued: 5, backlog: 4 };
  const atLimit = { queued: 4, backlog: 4 };
  const some = { queued: 3, backlog: 4 };
  let state: QueueState = initialQueueState;
  const actions: (string | null)[] = [];
  let now = 0;
  const sample = (q: { queued: number; backlog: number }): void => {
    const r = queueStep(state, q, now);
    state = r.state;
    actions.push(r.action);
    now += 2000;
  };
  for (let i = 0; i < FULL_SAMPLES - 1; i++) sample(full);
  sample(some);
  assert.deepEqual(actions, [null, null, null], 'a burst that drains is no warning');
  actions.length = 0;
  for (let i = 0; i < FULL_SAMPLES; i++) sample(i % 2 ? full : atLimit);
  assert.deepEqual(actions.slice(-1), ['warn']);
  actions.length = 0;
  const samplesPerRepeat = REPEAT_WARNING_MS / 2000;
  for (let i = 0; i < samplesPerRepeat; i++) sample(full);
  assert.deepEqual(actions.filter(Boolean), ['warn'], 'once more after a minute, not at every sample');
  sample(some);
  assert.equal(actions.at(-1), 'drained');
  sample(some);
  assert.equal(actions.at(-1), null);
});

test('a uwsgi probe is one packet: modifier1 0, le16 size, modifier2 0, then le16-sized keys and values', () => {
  const packet = uwsgiPacket({ A: 'bc' });
  assert.deepEqual([...packet], [0, 7, 0, 0, 1, 0, 0x41, 2, 0, 0x62, 0x63]);
  const probe = probeBytes(parseHealthCheck('uwsgi:/health?deep=1'));
  assert.equal(probe[0], 0);
  assert.equal(probe.readUInt16LE(1), probe.length - 4);
  const text = probe.subarray(4).toString('latin1');
  const expected = [
    ['REQUEST_METHOD', 'GET'],
    ['PATH_INFO', '/health'],
    ['QUERY_STRING', 'deep=1'],
    ['REQUEST_URI', '/health?deep=1'],
    ['SERVER_PROTOCOL', 'HTTP/1.0'],
  ];
  for (const [key, value] of expected) {
    const k = Buffer.alloc(2);
    k.writeUInt16LE(key!.length);
    const v = Buffer.alloc(2);
    v.writeUInt16LE(value!.length);
    assert.ok(text.includes(`${k.toString('latin1')}${key}${v.toString('latin1')}${value}`), `${key}=${value} missing`);
  }
  assert.equal(
    probeBytes(parseHealthCheck('http:/up')).toString(),
    'GET /up HTTP/1.0\r\nHost: localhost\r\nUser-Agent: sockvisor-health-check\r\nConnection: close\r\n\r\n',
  );
});
