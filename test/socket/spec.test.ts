import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SOCKET_PATH_BYTES, parseSocketSpecs, type UnixSocketSpec } from '../../src/socket/spec.js';

test('socket values become absolute paths with names, in order', () => {
  const specs = parseSocketSpecs(['/run/app/app.sock', 'health=run/health.sock'], '/srv/app');
  assert.deepEqual(specs, [
    { kind: 'unix', name: 'socket', path: '/run/app/app.sock' },
    { kind: 'unix', name: 'health', path: '/srv/app/run/health.sock' },
  ]);
});

test('a path of exactly 107 bytes is accepted, 108 is refused naming the limit', () => {
  const ok = '/' + 'a'.repeat(MAX_SOCKET_PATH_BYTES - 1);
  assert.equal((parseSocketSpecs([ok], '/')[0] as UnixSocketSpec).path, ok);
  assert.throws(() => parseSocketSpecs([ok + 'b'], '/'), /108 bytes long.*at most 107 bytes/);
});

test('bytes, not characters, count toward the limit', () => {
  const path = '/' + 'é'.repeat(54); // 108 bytes in UTF-8
  assert.throws(() => parseSocketSpecs([path], '/'), /at most 107 bytes/);
});

test('the same path, the same address or the same name twice is refused', () => {
  assert.throws(() => parseSocketSpecs(['/run/a.sock', '/run/./a.sock'], '/'), /given twice/);
  assert.throws(() => parseSocketSpecs(['x=/run/a.sock', 'x=/run/b.sock'], '/'), /name 'x' is given twice/);
  assert.throws(() => parseSocketSpecs([':8080', '0.0.0.0:8080'], '/'), /'0\.0\.0\.0:8080' is given twice/);
  // Port 0 asks the kernel for a free port each time: two of them are two sockets.
  assert.equal(parseSocketSpecs(['127.0.0.1:0', 'b=127.0.0.1:0'], '/').length, 2);
});

test('TCP addresses: IPv4, [IPv6], :PORT and *:PORT for every IPv4 interface, localhost as 127.0.0.1, each with a name', () => {
  assert.deepEqual(parseSocketSpecs(['127.0.0.1:8080', 'v6=[::1]:8081', ':8082', '*:8083', 'health=localhost:9090'], '/'), [
    { kind: 'tcp', name: 'socket', family: 4, address: '127.0.0.1', port: 8080 },
    { kind: 'tcp', name: 'v6', family: 6, address: '::1', port: 8081 },
    { kind: 'tcp', name: 'socket3', family: 4, address: '0.0.0.0', port: 8082 },
    { kind: 'tcp', name: 'socket4', family: 4, address: '0.0.0.0', port: 8083 },
    { kind: 'tcp', name: 'health', family: 4, address: '127.0.0.1', port: 9090 },
  ]);
});

test('a host name, a bad port or a bad IPv6 address is refused with the fix; ./name:80 is a file', () => {
  assert.throws(
    () => parseSocketSpecs(['example.com:80'], '/'),
    /names the host 'example\.com'.*give the address, e\.g\. 127\.0\.0\.1:80.*\.\/example\.com:80/,
  );
  assert.throws(() => parseSocketSpecs(['127.0.0.1:70000'], '/'), /not between 0 and 65535/);
  assert.throws(() => parseSocketSpecs(['[nope]:80'], '/'), /no IPv6 address between the brackets/);
  assert.deepEqual(parseSocketSpecs(['./example.com:80'], '/srv'), [{ kind: 'unix', name: 'socket', path: '/srv/example.com:80' }]);
});
