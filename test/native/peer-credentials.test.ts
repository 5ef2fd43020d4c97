// peerCredentials: who is at the other end of a unix socket connection, as the kernel says (SO_PEERCRED).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { peerCredentials, type NativeError } from '../../src/native.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-peercred-');
});
after(cleanupTempDirs);

test('the accepted end of a connection names the connecting process, its uid and gid', async () => {
  const path = join(dir, 'p.sock');
  const server = createServer();
  server.listen(path);
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = createConnection({ path });
  const [socket] = await accepted;
  try {
    const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    assert.deepEqual(peerCredentials(fd), { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  } finally {
    client.destroy();
    socket.destroy();
    server.close();
  }
});

test("a descriptor that is no connected socket is an error shaped like Node's", () => {
  assert.throws(
    () => peerCredentials(0x7ffffff0),
    (e: NativeError) => e.code === 'EBADF' && e.syscall === 'getsockopt',
  );
});
