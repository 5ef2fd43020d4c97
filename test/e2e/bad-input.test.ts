// Bad input: one clear sentence, exit 2, and nothing created, removed or followed.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { chmodSync, chownSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { runSockvisor } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';

let dir: string;
let user: TestUser;
before(async () => {
  dir = await makeTempDir('sockvisor-bad-');
  user = createTestUser();
});
after(async () => {
  removeTestUser(user);
  await cleanupTempDirs();
});

const anchorOf = (path: string): string => join(dirname(path), `.${basename(path)}.sockvisor`);

/**
 * What a refusal must leave as it was: each socket path given (`-s PATH`, `-s NAME=PATH`) and
 * `also`, the anchor next to each (its second name, .NAME.sockvisor), and every folder above each
 * that does not exist yet (sockvisor would make them): for each, what lstat finds now.
 */
function snapshot(args: string[], also: string[]): Map<string, Stats | undefined> {
  const given = args.flatMap((a, i) => (args[i - 1] === '-s' || args[i - 1] === '--socket' ? [a.replace(/^[\w-]+=/, '')] : []));
  const paths = [...given.filter((p) => p.startsWith('/')), ...also];
  const watched = new Map<string, Stats | undefined>();
  for (const path of paths) {
    for (const p of [path, anchorOf(path)]) watched.set(p, lstatSync(p, { throwIfNoEntry: false }));
    for (let folder = dirname(path); !existsSync(folder); folder = dirname(folder)) watched.set(folder, undefined);
  }
  return watched;
}

/**
 * Asserts exit 2 with a message matching pattern, no child started, and nothing created or replaced:
 * no socket, anchor or folder where there was none, the same file where there was one.
 */
async function refuses(
  args: string[],
  pattern: RegExp,
  options: Parameters<typeof runSockvisor>[1] = {},
  also: string[] = [],
): Promise<string> {
  const before = snapshot(args, also);
  const result = await runSockvisor(args, options);
  assert.equal(result.code, 2, `exit ${result.code}; output:\n${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.equal(result.records.filter((r) => r.event === 'child.started').length, 0, 'a child was started');
  for (const [path, was] of before) {
    const now = lstatSync(path, { throwIfNoEntry: false });
    if (was === undefined) assert.equal(now, undefined, `${path} was created by a refused start`);
    else assert.deepEqual([now?.ino, now?.mode], [was.ino, was.mode], `${path} was replaced or changed by a refused start`);
  }
  return result.stderr;
}

test('an unknown socket owner, socket group or child user is refused before any folder or socket is made', async () => {
  const path = join(dir, 'new', 'sub', 'app.sock');
  await refuses(['-s', path, '--socket-owner', 'nosuchuser', '--', 'sleep', '9'], /user 'nosuchuser' given to --socket-owner does not exist/);
  await refuses(['-s', path, '--socket-group', 'nosuchgroup', '--', 'sleep', '9'], /group 'nosuchgroup' given to --socket-group does not exist/);
  await refuses(['-s', path, '--user', 'nosuchuser', '--', 'sleep', '9'], /user 'nosuchuser' given to --user does not exist/);
  assert.equal(existsSync(join(dir, 'new')), false, 'a parent folder was created');
});

test('a mode that is not octal, or has bits above 0777, is refused', async () => {
  const path = join(dir, 'mode.sock');
  await refuses(['-s', path, '--socket-mode', '999', '--', 'sleep', '9'], /999/);
  await refuses(['-s', path, '--socket-mode', '4755', '--', 'sleep', '9'], /0777/);
  await refuses(['-s', path, '--chmod-socket', 'rw', '--', 'sleep', '9'], /rw/);
  assert.equal(existsSync(path), false);
});

test('a path over 107 bytes is refused naming the limit', async () => {
  const path = join(dir, 'x'.repeat(120 - dir.length), 'a.sock');
  const stderr = await refuses(['-s', path, '--', 'sleep', '9'], /at most 107 bytes/);
  assert.match(stderr, /shorter path/);
});

test('an empty COMMAND is refused', async () => {
  await refuses(['-s', join(dir, 'empty.sock'), '--'], /No COMMAND given/);
  await refuses(['-s', join(dir, 'empty.sock')], /No COMMAND given/);
});

test('a regular file, a directory or a symlink at the path is refused and left exactly as it was', async () => {
  const file = join(dir, 'file.sock');
  writeFileSync(file, 'precious');
  await refuses(['-s', file, '--', 'sleep', '9'], /is a regular file, not a socket; sockvisor never removes or follows it/);
  assert.equal(readFileSync(file, 'utf8'), 'precious');

  const folder = join(dir, 'folder.sock');
  mkdirSync(folder);
  writeFileSync(join(folder, 'inside'), 'x');
  await refuses(['-s', folder, '--', 'sleep', '9'], /is a directory/);
  assert.ok(lstatSync(folder).isDirectory());
  assert.equal(readFileSync(join(folder, 'inside'), 'utf8'), 'x');

  const link = join(dir, 'link.sock');
  const target = join(dir, 'target-of-link.sock');
  symlinkSync(target, link);
  await refuses(['-s', link, '--', 'sleep', '9'], /is a symbolic link/);
  assert.equal(readlinkSync(link), target);
  assert.equal(existsSync(target), false, 'the symlink was followed');
});

test('a socket with a live listener is not taken over', async () => {
  const path = join(dir, 'live.sock');
  const server = createServer((c) => c.end());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const before = lstatSync(path).ino;
    await refuses(['-s', path, '--', 'sleep', '9'], new RegExp(`A server is already listening on '${path.replace(/[.]/g, '\\.')}'`));
    assert.equal(lstatSync(path).ino, before);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a folder the user cannot write is refused with the folder named and a fix', async () => {
  const locked = join(dir, 'root-only');
  mkdirSync(locked);
  chmodSync(locked, 0o755);
  chownSync(locked, 0, 0);
  await refuses(['-s', join(locked, 'app.sock'), '--socket-mode', '0666', '--', 'sleep', '9'], /folder '.*root-only' cannot be written/, {
    uid: user.uid,
    gid: user.gid,
  });
});

test('an unprivileged user cannot give the socket to another owner', async () => {
  const own = join(dir, `own-${user.name}`);
  mkdirSync(own);
  chownSync(own, user.uid, user.gid);
  await refuses(['-s', join(own, 'app.sock'), '--socket-owner', 'root', '--', 'sleep', '9'], /Only root can give the socket to another user/, {
    uid: user.uid,
    gid: user.gid,
  });
  await refuses(['-s', join(own, 'app.sock'), '--socket-group', 'www-data', '--', 'sleep', '9'], /not a member of group 'www-data'/, {
    uid: user.uid,
    gid: user.gid,
  });
  assert.equal(existsSync(join(own, 'app.sock')), false);
});

test('an unknown option is refused with exit 2', async () => {
  const result = await runSockvisor(['--no-such-option', '-s', join(dir, 'x.sock'), '--', 'sleep', '9']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /no-such-option/);
});

test("uWSGI's ini naming a socket sockvisor cannot adopt, or an xml config, is refused before anything is made", async () => {
  const ini = join(dir, 'relative.ini');
  writeFileSync(ini, '[uwsgi]\nsocket = run/app.sock\n');
  const relative = /socket = run\/app\.sock \(.*relative\.ini line 2\) is a relative path.*write the absolute path/;
  await refuses(['--', 'uwsgi', '--ini', ini], relative, { cwd: dir }, [join(dir, 'run', 'app.sock')]);
  assert.equal(existsSync(join(dir, 'run')), false);
  await refuses(['--', 'uwsgi', '--xml', join(dir, 'app.xml')], /uWSGI's --xml .*app\.xml configuration .* is not read by sockvisor/);
  await refuses(['--', 'uwsgi', '--ini', join(dir, 'missing.ini')], /Cannot read uWSGI's configuration file '.*missing\.ini' \(ENOENT\)/);
});

test('a config file with an unknown key or a wrong type is refused naming the key and the file', async () => {
  const file = join(dir, 'sockvisor.toml');
  writeFileSync(file, `socket = "${join(dir, 'cfg.sock')}"\nstop-timeout = "ten"\ncommand = ["sleep", "9"]\n`);
  const notANumber = new RegExp(`In ${file.replace(/[.]/g, '\\.')}, stop-timeout must be a number`);
  await refuses(['--config', file], notANumber, {}, [join(dir, 'cfg.sock')]);
  writeFileSync(file, `sockets = ["${join(dir, 'cfg.sock')}"]\n`);
  await refuses(['--config', file, '--', 'sleep', '9'], /'sockets' is not an option of sockvisor/, {}, [join(dir, 'cfg.sock')]);
  assert.equal(existsSync(join(dir, 'cfg.sock')), false);
});

test('a SOCKVISOR_ variable that names no option is refused', async () => {
  const result = await runSockvisor(['-s', join(dir, 'env.sock'), '--', 'sleep', '9'], { env: { SOCKVISOR_SOCKET_MOD: '0660' } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /SOCKVISOR_SOCKET_MOD names no option of sockvisor/);
});
