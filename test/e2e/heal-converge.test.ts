// Repairs that converge, with real uWSGI behind real nginx (workers as www-data): what no inotify
// event announces is still put right by the timed re-checks (a foreign server that exits leaving
// its socket file; an inode freed on a full tmpfs), and someone chmod-ing the socket without pause,
// as its owner, costs sockvisor neither a core nor the disk.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { cpuTimeMs, identify, killGroup, waitUntil } from '../helpers/proc.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import type { LogRecord, SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir, mountTmpfs } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { startRawUwsgi, stopAllRawUwsgis, stopRawUwsgi, UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let owner: TestUser | undefined;
const attackers = new Set<number>();
before(async () => {
  dir = await makeTempDir('sockvisor-converge-');
});
afterEach(async () => {
  for (const pid of attackers) killGroup(pid);
  attackers.clear();
  await stopAllRawUwsgis();
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(async () => {
  removeTestUser(owner);
  await cleanupTempDirs();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const anchorOf = (path: string) => join(path, '..', `.${path.split('/').at(-1)}.sockvisor`);
const healed = (action: string) => (r: LogRecord) => r.event === 'socket.healed' && r.action === action;
const inoOf = (path: string): number | undefined => lstatSync(path, { throwIfNoEntry: false })?.ino;

type Serving = { sv: SockvisorProcess; pid: number; port: number };

/** sockvisor serving uWSGI at path, ready and watching, and nginx in front of it (options: more of sockvisor's). */
async function serve(path: string, owner = 'root:www-data', options: string[] = []): Promise<Serving> {
  const sv = startSockvisor(['-s', path, '--socket-owner', owner, ...options, '--', UWSGI, ...uwsgiArgs()]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid, 15000, 'uWSGI to say READY=1');
  await sv.waitFor((r) => r.event === 'socket.watched');
  const nginx = await startNginx({ socketPath: path });
  return { sv, pid, port: nginx.port };
}

/** Asserts a request through nginx is answered by the uWSGI master with that pid. */
async function answeredBy(port: number, pid: number, when: string): Promise<void> {
  const { status, body } = await httpGet(port, '/', 10000);
  assert.equal(status, 200, `${when}: nginx got ${status} (${body.slice(0, 120)})`);
  assert.match(body, new RegExp(`^hello from uWSGI pid ${pid} `), `${when}: answered by another server`);
}

test('a uWSGI started by hand takes the path, then exits leaving its file: left alone while it lives, back within 5 s after', async (t) => {
  const path = join(dir, 'stale', 'app.sock');
  const { sv, pid, port } = await serve(path);
  const held = identify(path);
  await answeredBy(port, pid, 'at first');

  // uWSGI unlinks the path and binds its own socket there. sockvisor is stopped meanwhile, so that
  // it cannot link its socket back between the two (uWSGI would then fail with EADDRINUSE).
  process.kill(sv.pid, 'SIGSTOP');
  let raw;
  try {
    // --chmod-socket: as people run it for nginx (root's umask would lock www-data out).
    raw = await startRawUwsgi(path, ['--chmod-socket=666']);
    assert.ok(await waitUntil(() => inoOf(path) !== held.ino, 10000), 'the raw uWSGI did not take the path');
  } finally {
    process.kill(sv.pid, 'SIGCONT');
  }
  const refused = await sv.waitFor((r) => r.event === 'socket.heal-refused', 5000, 'an error about the foreign socket');
  assert.match(refused.msg, /holds a socket another server listens on, not the socket sockvisor holds/);
  await answeredBy(port, raw.pid!, 'while the raw uWSGI holds the path');
  // Looked at again and again meanwhile (every 0.2 s, 0.4 s, ... 2 s): never taken over, said once.
  await sleep(2500);
  await answeredBy(port, raw.pid!, 'after 2.5 s of timed checks');
  const foreign = inoOf(path);
  assert.notEqual(foreign, held.ino);

  // Killed, it leaves a socket file nobody listens on: no event for inotify, nginx would get
  // "(111: Connection refused)" for good without the timed checks.
  await stopRawUwsgi(raw);
  const stoppedAt = Date.now();
  assert.ok(await waitUntil(() => inoOf(path) === held.ino, 5000), `not back within 5 s (inode ${inoOf(path)} is there)`);
  const tookMs = Date.now() - stoppedAt;
  await answeredBy(port, pid, 'after the repair');
  const relinked = await sv.waitFor(healed('relinked'), 2000, 'the repair to be logged');
  assert.equal(relinked.found, 'stale-socket');
  assert.match(relinked.msg, /someone put a socket nobody listens on at .*app\.sock \(replaced\): linked the same socket back/);
  assert.equal(sv.records.filter((r) => r.event === 'socket.heal-refused').length, 1, 'the error was repeated by the timed checks');
  assert.deepEqual(identify(path), held, 'not the same socket file, mode and owner');
  assert.equal(sv.records.filter((r) => r.event === 'child.started').length, 1, 'the same socket needs no new child');
  t.diagnostic(`the held socket was back ${tookMs} ms after the raw uWSGI was killed`);
});

// A socket directly in a sticky world-writable folder is refused at start as root (path trust), so the
// other user here is the child's: a folder it owns is allowed (it runs there anyway), and it can bind
// the socket's name once that is free.
test("a listener of the child's user in its own folder, where the socket was removed: left alone, replaced once killed", async () => {
  owner ??= createTestUser('svc');
  const shared = join(dir, 'childs');
  mkdirSync(shared, { mode: 0o755 });
  chownSync(shared, owner.uid, owner.gid);
  const path = join(shared, 'app.sock');
  const { sv, pid, port } = await serve(path, 'root:www-data', ['--user', owner.name]);
  const held = identify(path);
  // A cleaner removes the socket (sockvisor stopped: it would link it back at once), and the user binds the free name.
  process.kill(sv.pid, 'SIGSTOP');
  let listener: ChildProcess;
  try {
    unlinkSync(path);
    const script = [
      'import socket, time',
      's = socket.socket(socket.AF_UNIX)',
      `s.bind(${JSON.stringify(path)})`,
      's.listen()',
      "print('ready', flush=True)",
      'time.sleep(60)',
    ].join('\n');
    listener = spawn('python3', ['-c', script], { uid: owner.uid, gid: owner.gid, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    attackers.add(listener.pid!);
    await new Promise((resolve, reject) => {
      listener!.stdout!.once('data', resolve);
      listener!.once('exit', (code: number | null) => reject(new Error(`the listener exited (${code})`)));
    });
  } finally {
    process.kill(sv.pid, 'SIGCONT');
  }
  await sv.waitFor((r) => r.event === 'socket.heal-refused' && /another server listens on/.test(r.msg), 5000, 'an error about it');
  await sleep(1000);
  assert.equal(lstatSync(path).uid, owner.uid, "the user's socket was taken over while it listened");
  // kill -9: its file stays, owned by the user; nothing inotify sees: the timed re-checks find it stale.
  killGroup(listener.pid!);
  attackers.delete(listener.pid!);
  assert.ok(await waitUntil(() => inoOf(path) === held.ino, 5000), `not back within 5 s (inode ${inoOf(path)} is there)`);
  await answeredBy(port, pid, 'after the repair');
  assert.deepEqual(identify(path), held);
});

test('the folder replaced by a file: left alone, said once; the file moved away: the folder and a new socket back within 5 s', async () => {
  const folder = join(dir, 'replaced');
  const path = join(folder, 'app.sock');
  const { sv, pid, port } = await serve(path);
  // Stopped, sockvisor sees the folder go and the file come at once (else it would make the folder again first).
  process.kill(sv.pid, 'SIGSTOP');
  rmSync(folder, { recursive: true });
  writeFileSync(folder, 'mine\n');
  process.kill(sv.pid, 'SIGCONT');
  const refused = await sv.waitFor((r) => r.event === 'socket.heal-refused', 5000, 'an error about the file');
  assert.match(refused.msg, /is no longer a folder, .* move it away, and sockvisor makes the folder again and puts its socket back/);
  await sleep(1000);
  assert.equal(readFileSync(folder, 'utf8'), 'mine\n');
  // Moved away: nothing inotify watches changes (the watch was on the removed folder).
  renameSync(folder, `${folder}.mine`);
  const isSocket = (): boolean => lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true;
  assert.ok(await waitUntil(isSocket, 5000), 'the socket was not back within 5 s');
  assert.equal(lstatSync(folder).mode & 0o7777, 0o755);
  const newPid = await childPid(sv, pid);
  await sv.waitFor((r) => r.event === 'handover.done' && r.pid === newPid, 15000, 'the handover to the child on the new socket');
  await answeredBy(port, newPid, 'on the new socket');
  assert.equal(sv.records.filter((r) => r.event === 'socket.heal-refused').length, 1, 'the error was repeated');
  assert.equal(readFileSync(`${folder}.mine`, 'utf8'), 'mine\n');
});

/** Creates empty files in folder until the file system has no inode left; their paths. */
function fillInodes(folder: string, prefix: string): string[] {
  const made: string[] = [];
  for (let i = 0; ; i++) {
    const file = join(folder, `${prefix}${i}`);
    try {
      closeSync(openSync(file, 'wx'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return made;
      throw error;
    }
    made.push(file);
  }
}

test('no inode left (tmpfs): no new socket, said once; an inode freed: made within 5 s and answering, then its anchor', async (t) => {
  const mount = await mountTmpfs('nr_inodes=16,size=1m');
  if (mount === null) {
    t.skip('cannot mount a tmpfs here (mount -t tmpfs needs CAP_SYS_ADMIN): run the tests as root on a machine that allows mounts');
    return;
  }
  const path = join(mount, 'app.sock');
  const { sv, pid, port } = await serve(path);
  const fillers = fillInodes(mount, 'filler');
  assert.ok(fillers.length > 0 && fillers.length < 16);

  // Both names go while sockvisor is stopped (a new socket must be made), and their inodes are taken at once.
  process.kill(sv.pid, 'SIGSTOP');
  unlinkSync(anchorOf(path));
  unlinkSync(path);
  fillers.push(...fillInodes(mount, 'taken'));
  process.kill(sv.pid, 'SIGCONT');
  const refused = await sv.waitFor((r) => r.event === 'socket.heal-refused', 5000, 'the failed bind to be logged');
  assert.equal(refused.level, 50);
  assert.match(refused.msg, /the socket .*app\.sock was removed and a new one cannot be made: .*ENOSPC/);
  // Timed checks meanwhile (0.2 s, 0.4 s, 0.8 s...): each fails the same way, and says nothing more.
  await sleep(1500);
  assert.equal(inoOf(path), undefined);
  assert.equal(sv.records.filter((r) => r.event === 'socket.heal-refused').length, 1, 'the error was repeated');

  // One inode freed: the socket (only) can be made. No event about the socket's path says so.
  unlinkSync(fillers.pop()!);
  const freedAt = Date.now();
  const isSocket = (): boolean => lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true;
  assert.ok(await waitUntil(isSocket, 5000), 'no socket within 5 s of an inode freed');
  const tookMs = Date.now() - freedAt;
  const created = await sv.waitFor(healed('created'), 2000, 'the new socket to be logged');
  assert.match(created.msg, /made a new socket there \(0660 root:www-data, inode \d+\)/);
  const now = identify(path);
  assert.deepEqual([now.mode, now.uid, now.gid], [0o660, 0, 33]);
  const newPid = await childPid(sv, pid);
  await sv.waitFor((r) => r.event === 'handover.done' && r.pid === newPid, 15000, 'the handover to the child on the new socket');
  await answeredBy(port, newPid, 'on the new socket');

  // A hard link takes an inode of its own on tmpfs: the anchor waits for the next one freed.
  const anchorRefused = await sv.waitFor((r) => r.event === 'socket.anchor-problem', 5000, 'the anchor that cannot be linked');
  assert.match(anchorRefused.msg, /ENOSPC/);
  unlinkSync(fillers.pop()!);
  assert.ok(await waitUntil(() => inoOf(anchorOf(path)) === now.ino, 5000), 'the anchor was not linked within 5 s of an inode freed');
  t.diagnostic(`the socket was made again ${tookMs} ms after an inode was freed`);
});

test('the socket owner chmod-ing it without pause for 4 s: a few log lines, a small part of a core, and the socket restored', async (t) => {
  owner ??= createTestUser('svc');
  const path = join(dir, 'storm', 'app.sock');
  const { sv, pid, port } = await serve(path, `${owner.name}:www-data`);
  const svPid = await sv.sockvisorPid();
  // As fast as one process can: os.chmod in a loop, as the user the socket belongs to.
  const loop = `import os, time\nend = time.monotonic() + 4\nwhile time.monotonic() < end:\n  os.chmod(${JSON.stringify(path)}, 0o777)\n`;
  const before = cpuTimeMs(svPid)!;
  const startedAt = performance.now();
  const attacker = spawn('python3', ['-c', loop], { uid: owner.uid, gid: owner.gid, detached: true, stdio: 'ignore' });
  attackers.add(attacker.pid!);
  await new Promise((resolve) => attacker.once('exit', resolve));
  const wallMs = performance.now() - startedAt;
  const cpuMs = cpuTimeMs(svPid)! - before;
  attackers.delete(attacker.pid!);
  assert.equal(attacker.exitCode, 0, 'the chmod loop failed');

  assert.ok(await waitUntil(() => identify(path).mode === 0o660, 2000), 'the socket was not restored');
  await answeredBy(port, pid, 'after the chmod loop');
  // Half a second of quiet: the next repair is immediate again, not paced.
  await sleep(600);
  const held = identify(path);
  unlinkSync(path);
  const removedAt = performance.now();
  while (inoOf(path) !== held.ino && performance.now() - removedAt < 1000) await new Promise((r) => setImmediate(r));
  const backMs = performance.now() - removedAt;
  assert.ok(backMs < 100, `the socket removed after the storm was back only after ${backMs.toFixed(1)} ms`);
  // Every repair is accounted for, in a summary line per 5 s; stopping says what is still counted.
  assert.equal((await sv.stop()).code, 0);
  const lines = sv.records.filter(healed('permissions-restored'));
  const repairs = lines.reduce((n, r) => n + (r.count as number), 0);
  const share = `${cpuMs} ms of CPU in ${wallMs.toFixed(0)} ms (${((100 * cpuMs) / wallMs).toFixed(1)}%)`;
  t.diagnostic(`${repairs} repairs in ${lines.length} log lines, an rm after them undone in ${backMs.toFixed(1)} ms; ${share}`);
  assert.ok(lines.length <= 4, `${lines.length} log lines for ${repairs} repairs in 4 s`);
  assert.match(lines[0]!.msg, /^someone changed the socket .*: found 0777 svc\w+:www-data, restored 0660 svc\w+:www-data$/);
  assert.match(lines.at(-1)!.msg, /^put right [\d,]+ more times in the last [\d.]+ s; the last time, someone changed the socket/);
  // At most 100 checks a second once the first 50 are spent: about 450 in 4 s, whatever the loop's pace.
  assert.ok(repairs > 0 && repairs <= 600, `${repairs} repairs in 4 s`);
  // sockvisor's own CPU time (all its threads, not its children's): about 4% here; a quarter of a
  // core leaves room for a loaded machine, where every system call costs more.
  assert.ok(cpuMs < 0.25 * wallMs, `sockvisor used ${cpuMs} ms of CPU in ${wallMs.toFixed(0)} ms`);
});

test('a file put at the path and taken away without pause for 3 s: the refusal is said once, then summed up; the socket back after', async (t) => {
  owner ??= createTestUser('svc');
  const path = join(dir, 'flip', 'app.sock');
  const { sv, pid, port } = await serve(path, `${owner.name}:www-data`);
  // As root (a script or a cleaner gone wrong; the folder is root's): each round puts a regular file
  // where the socket was (sockvisor never touches it: an error) and takes it away (sockvisor links
  // its socket back).
  const loop = [
    'import os, time',
    `p = ${JSON.stringify(path)}`,
    'rounds = 0',
    'end = time.monotonic() + 3',
    'while time.monotonic() < end:',
    '  try:',
    '    os.unlink(p)',
    '    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))',
    '    rounds += 1',
    '    time.sleep(0.002)',
    '    os.unlink(p)',
    '  except (FileNotFoundError, FileExistsError, PermissionError):',
    '    pass',
    '  time.sleep(0.002)',
    'print(rounds)',
  ].join('\n');
  const attacker = spawn('python3', ['-c', loop], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  attackers.add(attacker.pid!);
  let out = '';
  attacker.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise((resolve) => attacker.once('exit', resolve));
  attackers.delete(attacker.pid!);
  const rounds = Number(out.trim());
  assert.ok(await waitUntil(() => lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true, 5000), 'the socket is not back');
  await answeredBy(port, pid, 'after the flips');
  assert.equal((await sv.stop()).code, 0);
  const refusals = sv.records.filter((r) => r.event === 'socket.heal-refused');
  const said = refusals.reduce((n, r) => n + ((r.count as number | undefined) ?? 1), 0);
  t.diagnostic(`${rounds} files put at the path; the refusal said ${said} times in ${refusals.length} log lines`);
  assert.ok(rounds >= 50, `only ${rounds} rounds: the flips did not run`);
  assert.ok(said >= 10, `the refusal was noticed only ${said} times in ${rounds} rounds`);
  assert.ok(refusals.length <= 4, `${refusals.length} error lines for ${rounds} flips in 3 s`);
});
