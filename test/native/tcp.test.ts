// The addon's TCP listeners, checked with real connections: a server that adopts the fd accepts,
// SO_REUSEADDR lets a port be listened on again with connections in TIME_WAIT, IPv6 is V6ONLY.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { closeFd, createTcpSocket, type NativeError } from '../../src/native.js';

const O_CLOEXEC = 0o2000000;

/** Serves "hi" on a listening fd, the way a child program would adopt it. */
async function serveOn(fd: number): Promise<Server> {
  const server = createServer((c) => c.end('hi'));
  server.listen({ fd });
  await once(server, 'listening');
  return server;
}

async function fetchText(port: number, host = '127.0.0.1'): Promise<string> {
  const socket = connect(port, host);
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => (text += d));
  await once(socket, 'end');
  return text;
}

test('port 0 gets a port from the kernel; the fd is close-on-exec and a server adopting it answers', async () => {
  const created = createTcpSocket({ family: 4, address: '127.0.0.1', port: 0, backlog: 16 });
  assert.ok(created.port > 0);
  const flags = Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${created.fd}`, 'utf8'))![1]!, 8);
  assert.ok(flags & O_CLOEXEC, 'the listening fd is inherited by every exec');
  const server = await serveOn(created.fd);
  try {
    assert.equal(await fetchText(created.port), 'hi');
  } finally {
    server.close();
  }
});

test('the same port can be listened on again at once while closed connections sit in TIME_WAIT (SO_REUSEADDR)', async () => {
  const first = createTcpSocket({ family: 4, address: '127.0.0.1', port: 0, backlog: 16 });
  const server = await serveOn(first.fd);
  // The server closes first (c.end), so the TIME_WAIT is on the listening side's port.
  assert.equal(await fetchText(first.port), 'hi');
  await new Promise((resolve) => server.close(resolve));
  const again = createTcpSocket({ family: 4, address: '127.0.0.1', port: first.port, backlog: 16 });
  closeFd(again.fd);
});

test('[::]:P and 0.0.0.0:P are two sockets side by side (IPV6_V6ONLY); [::1] answers', async () => {
  const v4 = createTcpSocket({ family: 4, address: '0.0.0.0', port: 0, backlog: 16 });
  const v6 = createTcpSocket({ family: 6, address: '::', port: v4.port, backlog: 16 });
  const server = await serveOn(v6.fd);
  try {
    assert.equal(await fetchText(v4.port, '::1'), 'hi');
  } finally {
    server.close();
    closeFd(v4.fd);
  }
});

test('a port in use fails like Node: code, errno, syscall, address and port', () => {
  const taken = createTcpSocket({ family: 4, address: '127.0.0.1', port: 0, backlog: 16 });
  try {
    assert.throws(
      () => createTcpSocket({ family: 4, address: '127.0.0.1', port: taken.port, backlog: 16 }),
      (error: NativeError & { address: string; port: number }) =>
        error.code === 'EADDRINUSE' &&
        error.syscall === 'bind' &&
        error.errno < 0 &&
        error.address === '127.0.0.1' &&
        error.port === taken.port,
    );
  } finally {
    closeFd(taken.fd);
  }
  assert.throws(() => createTcpSocket({ family: 4, address: 'localhost', port: 1, backlog: 1 }), { code: 'EINVAL', syscall: 'inet_pton' });
});
