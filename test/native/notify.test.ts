// The NOTIFY_SOCKET receiver and sender of the addon, on real sockets with real senders.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { openNotifyReceiver, sendNotify, type NotifyDatagram } from '../../src/native.js';
import { pgrpOf } from '../helpers/proc.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';

const run = promisify(execFile);
let stranger: TestUser;
before(() => {
  stranger = createTestUser('svn');
});
after(() => removeTestUser(stranger));

function receive(): { address: string; datagrams: NotifyDatagram[]; next: () => Promise<NotifyDatagram>; close: () => void } {
  const address = `@sockvisor-test/${process.pid}/${randomBytes(6).toString('hex')}`;
  const datagrams: NotifyDatagram[] = [];
  let wake: (() => void) | null = null;
  const receiver = openNotifyReceiver(address, (d) => {
    datagrams.push(d);
    wake?.();
  });
  let read = 0;
  const next = async (): Promise<NotifyDatagram> => {
    const end = Date.now() + 5000;
    while (datagrams.length <= read) {
      if (Date.now() > end) throw new Error('no datagram within 5 s');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return datagrams[read++]!;
  };
  return { address, datagrams, next, close: () => receiver.close() };
}

test('a datagram arrives with the sender pid, uid and process group the kernel reports', async () => {
  const r = receive();
  try {
    assert.equal(sendNotify(r.address, 'READY=1\nSTATUS=hi'), null);
    const d = await r.next();
    assert.deepEqual(
      { text: d.text, pid: d.pid, uid: d.uid, pgid: d.pgid, truncated: d.truncated },
      { text: 'READY=1\nSTATUS=hi', pid: process.pid, uid: process.getuid!(), pgid: pgrpOf(process.pid), truncated: false },
    );
  } finally {
    r.close();
  }
});

test('another local user can reach an abstract socket: its datagram carries its own uid and pid', async () => {
  // This is why sockvisor checks the sender: an abstract socket has no permission bits.
  const r = receive();
  try {
    const script = `import os,socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.sendto(b'READY=1','\\0${r.address.slice(1)}')\nprint(os.getpid())`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script], { uid: stranger.uid, gid: stranger.gid });
    const d = await r.next();
    assert.equal(d.text, 'READY=1');
    assert.equal(d.uid, stranger.uid);
    assert.equal(d.pid, Number(stdout.trim()));
  } finally {
    r.close();
  }
});

test('descriptors passed along with a datagram (SCM_RIGHTS) are closed, not leaked', async () => {
  // A receiver closed by an earlier test releases its fd in libuv's close phase: let it pass first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const r = receive();
  try {
    // The three descriptors sent are /dev/null: none may stay open here (other descriptors of this
    // process come and go with libuv and child_process meanwhile, so a bare count would be noisy).
    const devNull = (): string[] =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === '/dev/null';
        } catch {
          return false; // closed meanwhile
        }
      });
    const before = devNull();
    const script = `import socket,os\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\nfds=[os.open('/dev/null',os.O_RDONLY) for _ in range(3)]\ns.connect('\\0${r.address.slice(1)}')\nsocket.send_fds(s,[b'FDSTORE=1'],fds)`;
    await run('/usr/bin/python3', ['-c', script]);
    const d = await r.next();
    assert.equal(d.text, 'FDSTORE=1');
    assert.deepEqual(devNull(), before);
  } finally {
    r.close();
  }
});

test('sending to nobody gives the errno code, not an exception', () => {
  assert.equal(sendNotify(`@sockvisor-test/nobody/${randomBytes(6).toString('hex')}`, 'READY=1'), 'ECONNREFUSED');
  assert.equal(sendNotify('/nonexistent/notify.sock', 'READY=1'), 'ENOENT');
});

test('close() releases the socket: its fd is closed and its abstract name is free again', async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  const before = readdirSync('/proc/self/fd').length;
  const r = receive();
  assert.equal(readdirSync('/proc/self/fd').length, before + 1);
  r.close();
  // The fd is closed once libuv has let go of the poll handle, in this loop turn's close phase.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(readdirSync('/proc/self/fd').length, before);
  const again = openNotifyReceiver(r.address, () => undefined);
  again.close();
});
