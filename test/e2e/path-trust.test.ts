// Trusting the path to the socket (docs/security.md), with a real attacker: mallory, an
// unprivileged user made with useradd, against sockvisor as root running real uWSGI. A folder she
// may write, or a symbolic link she owns, on the way to the socket is refused at start (exit 2,
// nothing created); --insecure-path starts anyway with a warning, and then her attack works, which
// is why it is refused. A socket directly in a sticky world-writable folder is refused as root and
// warned about otherwise. The folder-search check follows symbolic links as the kernel does.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { assertNothingLeft, childPid, runCli, runSockvisor, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let mallory: TestUser;
let developer: TestUser;
let appUser: TestUser;
const attackers = new Set<ChildProcess>();

before(async () => {
  dir = await makeTempDir('sockvisor-trust-');
  mallory = createTestUser('mal');
  developer = createTestUser('dev');
  appUser = createTestUser('app');
});
afterEach(async () => {
  for (const proc of attackers) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  attackers.clear();
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(async () => {
  await cleanupTempDirs();
  removeTestUser(mallory);
  removeTestUser(developer);
  removeTestUser(appUser);
});

/** A folder under the test's temp dir with this owner and mode (chmod after chown: chown clears no sticky bit here, but be exact). */
function folder(name: string, owner: { uid: number; gid: number }, mode: number): string {
  const path = join(dir, name);
  mkdirSync(path);
  chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
  return path;
}

const ROOT = { uid: 0, gid: 0 };
/** Fails fast on the old code, which started instead of refusing. */
const REFUSAL_TIMEOUT_MS = 15000;

/** What a client (nginx) gets when it connects to path: the first bytes the server sends, or the errno. */
function firstBytes(path: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect(path);
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => (data += chunk));
    s.on('end', () => resolve(data));
    s.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    // uWSGI says nothing until it gets a request: take silence as "not mallory".
    setTimeout(() => {
      s.destroy();
      resolve(data || 'silence');
    }, 1000);
  });
}

/**
 * Mallory's attack of finding 2(a): as her own user, bind a socket of hers next to ours and
 * rename() it over the path; it answers "mallory". Resolves once the rename is done.
 */
async function malloryTakesOver(path: string): Promise<void> {
  const script = [
    'import os, socket, sys',
    'path = sys.argv[1]',
    's = socket.socket(socket.AF_UNIX); s.bind(path + ".evil"); s.listen(8)',
    'os.rename(path + ".evil", path)',
    'print("renamed", flush=True)',
    'while True:',
    '    c, _ = s.accept()',
    // sockvisor's healer connects too (to tell a live socket from a stale one) and hangs up at once.
    '    try: c.sendall(b"mallory\\n")',
    '    except OSError: pass',
    '    c.close()',
  ].join('\n');
  const as = { uid: mallory.uid, gid: mallory.gid };
  const proc = spawn('/usr/bin/python3', ['-c', script, path], { ...as, stdio: ['ignore', 'pipe', 'inherit'] });
  attackers.add(proc);
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', () => resolve());
    proc.on('exit', (code) => reject(new Error(`mallory's script exited with ${code}`)));
  });
}

test('finding 2(a): a folder mallory owns (0777): refused, exit 2, nothing made; --insecure-path starts, warns, she wins', async () => {
  const shared = folder('shared', mallory, 0o777);
  const path = join(shared, 'app.sock');
  const refused = await runSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()], { timeoutMs: REFUSAL_TIMEOUT_MS });
  assert.equal(refused.code, 2, refused.stderr);
  const sentence =
    `The folder '${shared}' (0777 ${mallory.name}:${mallory.name}), which would hold the socket '${path}', can be written by ` +
    `${mallory.name} (its owner) and every user, who could rename a socket of their own over it and get nginx's requests: ` +
    `chown root ${shared} and chmod go-w ${shared}, or put the socket in a folder of its own, e.g. under /run ` +
    `(or start with --insecure-path, at your own risk).`;
  assert.ok(refused.stderr.includes(sentence), refused.stderr);
  assert.deepEqual(readdirSync(shared), [], 'something was created although the start was refused');

  // The escape: it starts, says at start what is unsafe; and the attack it was refused for is real.
  const sv = startSockvisor(['-s', path, '--insecure-path', '--', UWSGI, ...uwsgiArgs()]);
  await sv.waitFor((r) => r.event === 'child.ready', 20000, 'uWSGI to be ready');
  const warning = sv.records.find((r) => r.event === 'config.warning' && r.msg.startsWith('--insecure-path: starting although'));
  assert.ok(warning, `no --insecure-path warning; log:\n${sv.records.map((r) => r.msg).join('\n')}`);
  const unsafe = sentence.replace(' (or start with --insecure-path, at your own risk)', '');
  assert.equal(warning.msg, `--insecure-path: starting although the path is unsafe: ${unsafe}`);
  assert.equal(await firstBytes(path), 'silence', 'uWSGI holds the path before the attack');
  await malloryTakesOver(path);
  assert.equal(await firstBytes(path), 'mallory\n', "nginx's connections now go to mallory");
  await sv.waitFor((r) => r.event === 'socket.heal-refused', 5000, 'the healer to notice');
});

test('the escape from the environment (SOCKVISOR_INSECURE_PATH=true) and from a config file (insecure-path = true)', async () => {
  const shared = folder('shared-escape', mallory, 0o777);
  const path = join(shared, 'app.sock');
  const config = join(dir, 'escape.toml');
  writeFileSync(config, `socket = "${path}"\ninsecure-path = true\ncommand = ["true"]\n`);
  const runs = [
    { args: ['-s', path, '--restart', 'never', '--', 'true'], env: { SOCKVISOR_INSECURE_PATH: 'true' } },
    { args: ['--config', config, '--restart', 'never'], env: {} },
  ];
  for (const { args, env } of runs) {
    const run = await runSockvisor(args, { env, timeoutMs: REFUSAL_TIMEOUT_MS });
    assert.equal(run.code, 0, run.stderr);
    const warned = run.records.filter((r) => r.event === 'config.warning' && r.msg.startsWith('--insecure-path: starting although'));
    assert.equal(warned.length, 1, run.stderr);
    assert.ok(warned[0]!.msg.includes(`The folder '${shared}'`), warned[0]!.msg);
  }
  assert.deepEqual(readdirSync(shared), [], 'the socket and its second name are removed on stop');
});

test('finding 2(b): a socket directly in a sticky world-writable folder: refused as root; an ordinary user starts, warned', async () => {
  const sticky = folder('tmp', ROOT, 0o1777);
  const path = join(sticky, 'app.sock');
  const refused = await runSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()], { timeoutMs: REFUSAL_TIMEOUT_MS });
  assert.equal(refused.code, 2, refused.stderr);
  const sentence =
    `The folder '${sticky}' (1777 root:root), which would hold the socket '${path}', can be written by every user: ` +
    'the sticky bit keeps others from renaming the socket, but once it is removed (a tmp cleaner, a mistaken rm) ' +
    "whoever binds the name first gets nginx's requests; put the socket in a folder of its own, e.g. /run/NAME/ or $XDG_RUNTIME_DIR/";
  assert.ok(refused.stderr.includes(`${sentence} (or start with --insecure-path, at your own risk).`), refused.stderr);
  assert.deepEqual(readdirSync(sticky), []);

  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()], { uid: developer.uid, gid: developer.gid });
  await sv.waitFor((r) => r.event === 'child.ready', 20000, 'uWSGI to be ready');
  // An ordinary user is not pointed at --insecure-path: nothing was refused.
  const warning = sv.records.find((r) => r.event === 'config.warning' && r.msg === `${sentence}.`);
  assert.ok(warning, `no warning about the sticky folder; log:\n${sv.records.map((r) => r.msg).join('\n')}`);
  assert.ok(existsSync(path));
});

test('finding 2(c): a symbolic link on the way owned by mallory is refused, naming the link; nothing is made behind it', async () => {
  const sticky = folder('tmp2', ROOT, 0o1777);
  const target = folder('target', ROOT, 0o755);
  const link = join(sticky, 'link');
  symlinkSync(target, link);
  lchownSync(link, mallory.uid, mallory.gid);
  const path = join(link, 'app.sock');
  const refused = await runSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()], { timeoutMs: REFUSAL_TIMEOUT_MS });
  assert.equal(refused.code, 2, refused.stderr);
  const sentence =
    `The symbolic link '${link}' (-> ${target}) on the way to the socket '${path}' is owned by ${mallory.name}, who is not ` +
    `trusted and could point it elsewhere, so that sockvisor creates and removes files where they choose: give the socket's ` +
    `real path to --socket, or have root own the link (chown -h root ${link}) (or start with --insecure-path, at your own risk).`;
  assert.ok(refused.stderr.includes(sentence), refused.stderr);
  assert.deepEqual(readdirSync(target), []);
  // The same layout with a link of root's: fine.
  rmSync(link);
  symlinkSync(target, link);
  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()]);
  await sv.waitFor((r) => r.event === 'child.ready', 20000, 'uWSGI to be ready');
  assert.ok(existsSync(join(target, 'app.sock')));
});

test('finding 7: a link to a folder inside a 0700 one: run warns that www-data cannot search it, doctor reports it', async () => {
  const hidden = folder('hidden', ROOT, 0o700);
  const y = join(hidden, 'y');
  mkdirSync(y, { mode: 0o755 });
  const lk = join(dir, 'lk');
  symlinkSync(y, lk);
  const path = join(lk, 'app.sock');
  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()]);
  await sv.waitFor((r) => r.event === 'child.ready', 20000, 'uWSGI to be ready');
  const warning = sv.records.find((r) => r.event === 'config.warning' && /cannot search the folder/.test(r.msg));
  assert.ok(warning, `no warning about the folder behind the link; log:\n${sv.records.map((r) => r.msg).join('\n')}`);
  const reached = `'${hidden}' (reached through the symbolic link '${lk}') (0700 root:root)`;
  const expected = `nginx's user 'www-data' cannot search the folder ${reached}, so it will get 502 Permission denied on '${path}'`;
  assert.ok(warning.msg.startsWith(expected), warning.msg);

  const doctor = await runCli(['doctor', path]);
  assert.equal(doctor.code, 1, doctor.stdout);
  const blocked = `[FAIL] www-data can search every folder above it: ${reached} blocks it: no search (x) as other`;
  assert.ok(doctor.stdout.includes(blocked), doctor.stdout);
  assert.match(doctor.stdout, /\[FAIL\] connect\(\) as www-data: refused with EACCES, as the checks above say/);
  assert.match(doctor.stdout, /\[ok\] {3}no untrusted user can redirect the path/);
});

test("doctor gives run's trust verdict: a folder mallory may write is a [FAIL] with the same sentence", async () => {
  const shared = folder('shared-doctor', mallory, 0o777);
  const doctor = await runCli(['doctor', join(shared, 'app.sock')]);
  assert.equal(doctor.code, 1, doctor.stdout);
  const folderOf = `'${shared}' (0777 ${mallory.name}:${mallory.name})`;
  const line = `[FAIL] no untrusted user can redirect the path: The folder ${folderOf}, which would hold`;
  assert.ok(doctor.stdout.includes(line), doctor.stdout);
});

test("sane layouts start without a word about trust: www-data's folder (Debian's /run/uwsgi), the child user's, /tmp/mine", async () => {
  const uwsgiRun = folder('uwsgi', { uid: 33, gid: 33 }, 0o755);
  const appDir = folder('appdir', appUser, 0o755);
  const sticky = folder('tmp3', ROOT, 0o1777);
  const mine = join(sticky, 'mine');
  mkdirSync(mine, { mode: 0o755 });
  const runs = [
    ['-s', join(uwsgiRun, 'app.sock'), '--', UWSGI, ...uwsgiArgs()],
    ['-s', join(appDir, 'app.sock'), '--user', appUser.name, '--', UWSGI, ...uwsgiArgs()],
    // uWSGI's own --uid is the child's user too (it drops to it itself).
    ['-s', join(appDir, 'uid.sock'), '--socket-owner', 'root', '--', UWSGI, ...uwsgiArgs(['--uid', appUser.name, '--gid', appUser.name])],
    ['-s', join(mine, 'app.sock'), '--', UWSGI, ...uwsgiArgs()],
  ];
  for (const args of runs) {
    const sv = startSockvisor(args);
    await sv.waitFor((r) => r.event === 'child.ready', 20000, `uWSGI to be ready (${args[1]})`);
    const trustWarnings = sv.records.filter((r) => r.event === 'config.warning' && /can be written by|symbolic link/.test(r.msg));
    assert.deepEqual(
      trustWarnings.map((r) => r.msg),
      [],
      args[1],
    );
    await sv.stop();
  }
});

test('the healer re-checks before it links anything: a folder made writable by mallory after start is not repaired into', async () => {
  const own = folder('later', ROOT, 0o755);
  const path = join(own, 'app.sock');
  const sv = startSockvisor(['-s', path, '--', UWSGI, ...uwsgiArgs()]);
  await childPid(sv);
  await sv.waitFor((r) => r.event === 'socket.watched');
  chownSync(own, mallory.uid, mallory.gid);
  chmodSync(own, 0o777);
  rmSync(path);
  const refused = await sv.waitFor((r) => r.event === 'socket.heal-refused', 5000, 'the healer to refuse');
  const start = `not repairing: The folder '${own}' (0777 ${mallory.name}:${mallory.name}), which would hold the socket '${path}'`;
  assert.ok(refused.msg.startsWith(`${start}, can be written by ${mallory.name} (its owner)`), refused.msg);
  assert.ok(!existsSync(path), 'the socket was linked back into a folder mallory controls');
  assert.equal(sv.records.filter((r) => r.event === 'socket.healed').length, 0);
});
