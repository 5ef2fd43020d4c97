// The library as a user imports it: by the package's name, through its exports map and types.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { createUnixSocket, Supervisor, UsageError } from 'sockvisor';
import { isAlive, waitGone } from './helpers/proc.js';
import { repoRoot } from './helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from './helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-lib-');
});
after(cleanupTempDirs);

test('createUnixSocket: the file has the mode, owner and group asked for; close() removes it', () => {
  const socket = createUnixSocket({ path: join(dir, 'lib', 'app.sock'), mode: 0o660, owner: 'root', group: 'www-data' });
  const st = lstatSync(socket.path);
  assert.ok(st.isSocket());
  assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o660, 0, 33]);
  assert.deepEqual([socket.mode, socket.uid, socket.gid], ['0660', 0, 33]);
  assert.equal(socket.close(), true);
  assert.equal(existsSync(socket.path), false);
  const file = join(dir, 'not-a-socket');
  writeFileSync(file, 'keep');
  assert.throws(
    () => createUnixSocket({ path: file }),
    (e: Error) => e instanceof UsageError && /is a regular file, not a socket/.test(e.message),
  );
});

test('Supervisor: holds the socket, runs COMMAND on it, logs only to the pino logger given, stops with status 0', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
  const signalHandlers = process.listenerCount('SIGTERM');
  const supervisor = new Supervisor({ socket: [`web=${join(dir, 'sv.sock')}`], command: ['sleep', '1000'], logger: pino(sink) });
  supervisor.start();
  assert.equal(process.listenerCount('SIGTERM'), signalHandlers, 'a library installed process signal handlers unasked');
  const pid = supervisor.pid!;
  assert.ok(isAlive(pid));
  assert.deepEqual(
    supervisor.sockets.map((s) => [s.name, s.path]),
    [['web', join(dir, 'sv.sock')]],
  );
  assert.equal(await supervisor.stop(), 0);
  assert.ok(await waitGone(pid, 5000));
  assert.equal(existsSync(join(dir, 'sv.sock')), false);
  assert.ok(lines.some((l) => l.event === 'child.started' && l.pid === pid));
});

test('bad options throw UsageError from the constructor, before anything is made', () => {
  assert.throws(() => new Supervisor({ socket: [join(dir, 'x', 'y.sock')], socketMode: '999', command: ['sleep', '1'] }), UsageError);
  assert.equal(existsSync(join(dir, 'x')), false);
  // --probe needs the command's asynchronous start: the library refuses it rather than ignore it.
  assert.throws(
    () => new Supervisor({ socket: [join(dir, 'p.sock')], probe: ':8081', command: ['sleep', '1'] }),
    /The probe option is for the sockvisor command/,
  );
});

test('with no logger the library writes nothing to stdout or stderr', () => {
  const script = `
    import { Supervisor } from 'sockvisor';
    const s = new Supervisor({ socket: [${JSON.stringify(join(dir, 'quiet.sock'))}], socketMode: '0666', command: ['sleep', '1000'] });
    s.start();
    setTimeout(async () => process.exit(await s.stop()), 200);
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.equal(result.status, 0);
  assert.deepEqual([result.stdout, result.stderr], ['', '']);
});
