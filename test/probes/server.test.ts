// What each probe path answers for each supervisor state: the policy a kubelet's httpGet meets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { probeAnswer } from '../../src/probes/server.js';
import type { SupervisorStatus } from '../../src/supervisor/child-supervisor.js';

const status = (phase: SupervisorStatus['phase'], healthy: boolean): SupervisorStatus => ({
  phase,
  healthy,
  pid: 42,
  generation: 3,
  restarts: 1,
  childStatus: null,
});

test('/ready is 200 only while the current child is ready and sockvisor is not stopping; /live is always 200', () => {
  assert.equal(probeAnswer('/ready', status('ready', true)).status, 200);
  assert.match(probeAnswer('/ready', status('ready', true)).body, /pid 42, generation 3/);
  // A handover keeps the old, ready child serving: still ready.
  assert.equal(probeAnswer('/ready', status('reloading', true)).status, 200);
  for (const phase of ['starting', 'restarting'] as const) assert.equal(probeAnswer('/ready', status(phase, false)).status, 503, phase);
  // On its way out the pod leaves the Service's endpoints even though the child still answers.
  assert.equal(probeAnswer('/ready', status('stopping', true)).status, 503);
  assert.equal(probeAnswer('/ready', null).status, 503);
  for (const s of [null, status('restarting', false), status('stopping', false)]) assert.equal(probeAnswer('/live', s).status, 200);
  assert.equal(probeAnswer('/', status('ready', true)).status, 404);
});
