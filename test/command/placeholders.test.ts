import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasFdPlaceholder, substituteFds } from '../../src/command/placeholders.js';

const sockets = [
  { name: 'web', fd: 3 },
  { name: 'health', fd: 4 },
];

test('{fd} is the first socket, {fd:NAME} the named one', () => {
  assert.ok(hasFdPlaceholder(['--bind', 'fd://{fd}']));
  assert.ok(!hasFdPlaceholder(['--bind', 'unix:/run/x.sock']));
  assert.deepEqual(substituteFds(['--bind', 'fd://{fd}', '--fd', '{fd:health}'], sockets), ['--bind', 'fd://3', '--fd', '4']);
});

test('an unknown socket name is refused naming the known ones', () => {
  assert.throws(() => substituteFds(['{fd:admin}'], sockets), /names the socket 'admin', but the sockets are named web, health/);
});
