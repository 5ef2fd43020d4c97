// unixListenQueue: the accept queue of a held socket, checked against what `ss -xl` shows for it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeFd, unixListenQueue, type NativeError } from '../../src/native.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-queue-');
});
after(cleanupTempDirs);

/** Recv-Q and Send-Q of the listening socket at path, as `ss -xl` prints them. */
function ssQueue(path: string): { recvQ: number; sendQ: number } {
  const out = execFileSync('ss', ['-xlnH'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.split(/\s+/).includes(path));
  assert.ok(line, `ss -xl does not list ${path}:\n${out}`);
  const [, , recvQ, sendQ] = line.trim().split(/\s+/);
  return { recvQ: Number(recvQ), sendQ: Number(sendQ) };
}

/** A connect() that the kernel queues (nobody accepts): resolves once connected. */
async function pendingConnect(path: string): Promise<Socket> {
  const socket = createConnection({ path });
  await once(socket, 'connect');
  return socket;
}

test('the queue of a socket nobody accepts on counts every pending connect, as ss -xl does', async () => {
  const path = join(dir, 'q.sock');
  const created = makeUnixSocket({ path, uid: -1, gid: -1, mode: 0o600, backlog: 4 });
  const clients: Socket[] = [];
  try {
    assert.deepEqual(unixListenQueue(created.fd), { queued: 0, backlog: 4 });
    for (let i = 0; i < 3; i++) clients.push(await pendingConnect(path));
    assert.deepEqual(unixListenQueue(created.fd), { queued: 3, backlog: 4 });
    const ss = ssQueue(path);
    assert.deepEqual(unixListenQueue(created.fd), { queued: ss.recvQ, backlog: ss.sendQ });
    // The kernel queues one more than the backlog, then refuses: the queue is full.
    for (let i = 0; i < 2; i++) clients.push(await pendingConnect(path));
    const full = unixListenQueue(created.fd);
    assert.deepEqual(full, { queued: 5, backlog: 4 });
    assert.deepEqual(ssQueue(path), { recvQ: full.queued, sendQ: full.backlog });
  } finally {
    for (const c of clients) c.destroy();
    closeFd(created.fd);
  }
});

test("a descriptor that is no listening socket is an error shaped like Node's", () => {
  assert.throws(
    () => unixListenQueue(0x7ffffff0),
    (e: NativeError) => e.code === 'EBADF' && e.syscall === 'fstat',
  );
  assert.throws(
    () => unixListenQueue(1),
    (e: NativeError) => e.code === 'ENOTSOCK' || e.code === 'EINVAL',
  );
});
