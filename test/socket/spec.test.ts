import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SOCKET_PATH_BYTES, parseSocketSpecs } from '../../src/socket/spec.js';

test('socket values become absolute paths with names, in order', () => {
  const specs = parseSocketSpecs(['/run/app/app.sock', 'health=run/health.sock'], '/srv/app');
  assert.deepEqual(specs, [
    { name: 'socket', path: '/run/app/app.sock' },
    { name: 'health', path: '/srv/app/run/health.sock' },
  ]);
});

test('a path of exactly 107 bytes is accepted, 108 is refused naming the limit', () => {
  const ok = '/' + 'a'.repeat(MAX_SOCKET_PATH_BYTES - 1);
  assert.equal(parseSocketSpecs([ok], '/')[0]!.path, ok);
  assert.throws(() => parseSocketSpecs([ok + 'b'], '/'), /108 bytes long.*at most 107 bytes/);
});

test('bytes, not characters, count toward the limit', () => {
  const path = '/' + 'é'.repeat(54); // 108 bytes in UTF-8
  assert.throws(() => parseSocketSpecs([path], '/'), /at most 107 bytes/);
});

test('the same path or the same name twice is refused', () => {
  assert.throws(() => parseSocketSpecs(['/run/a.sock', '/run/./a.sock'], '/'), /given twice/);
  assert.throws(() => parseSocketSpecs(['x=/run/a.sock', 'x=/run/b.sock'], '/'), /name 'x' is given twice/);
});
