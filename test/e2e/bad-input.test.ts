// Bad input: one clear sentence, exit 2, and nothing created, removed or followed.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { cliPath, runSockvisor, startSockvisor } from '../helpers/sockvisor.js';
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
  await refuses(
    ['-s', path, '--socket-owner', 'nosuchuser', '--', 'sleep', '9'],
    /user 'nosuchuser' given to --socket-owner does not exist/,
  );
  await refuses(
    ['-s', path, '--socket-group', 'nosuchgroup', '--', 'sleep', '9'],
    /group 'nosuchgroup' given to --socket-group does not exist/,
  );
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
  await refuses(
    ['-s', join(own, 'app.sock'), '--socket-owner', 'root', '--', 'sleep', '9'],
    /Only root can give the socket to another user/,
    {
      uid: user.uid,
      gid: user.gid,
    },
  );
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

test('a flag from the environment that is neither true nor false is refused, not read as false', async () => {
  // 'yes' and '1' read by yargs as false would leave --insecure-path off without a word.
  for (const value of ['yes', '1', 'TRUE', '']) {
    await refuses(['-s', join(dir, 'flag.sock'), '--', 'sleep', '9'], /SOCKVISOR_INSECURE_PATH='[^']*' is neither true nor false/, {
      env: { SOCKVISOR_INSECURE_PATH: value },
    });
  }
});

test('a duration a timer cannot hold (2^31 ms or more) is refused, from the command line, the environment or a config file', async () => {
  const path = join(dir, 'long.sock');
  const durations = ['--stop-timeout', '--handover-timeout', '--ready-after', '--restart-delay', '--restart-delay-max'];
  durations.push('--healthy-after', '--give-up-after');
  for (const option of durations) {
    const sentence = `${option} must be at most 2147483 seconds \\(about 24\\.8 days, the longest a timer can wait\\), not '3000000'`;
    await refuses(['-s', path, option, '3000000', '--', 'sleep', '9'], new RegExp(sentence));
  }
  const health = ['--health-check', 'uwsgi:/'];
  const interval = ['--health-interval', '2147483.648'];
  await refuses(['-s', path, ...health, ...interval, '--', 'sleep', '9'], /--health-interval must be at most 2147483 seconds/);
  const env = { SOCKVISOR_STOP_TIMEOUT: '3000000' };
  await refuses(['-s', path, '--', 'sleep', '9'], /--stop-timeout must be at most 2147483 seconds/, { env });
  const file = join(dir, 'long.toml');
  writeFileSync(file, `socket = "${path}"\nhandover-timeout = 3e6\ncommand = ["sleep", "9"]\n`);
  await refuses(['--config', file], /--handover-timeout must be at most 2147483 seconds/);
  const infinite = /--stop-timeout must be a number of seconds of 0 or more, not 'Infinity'/;
  await refuses(['-s', path, '--stop-timeout', 'Infinity', '--', 'sleep', '9'], infinite);
  const fraction = /--health-failures must be a whole number from 1 to/;
  await refuses(['-s', path, ...health, '--health-failures', '2.5', '--', 'sleep', '9'], fraction);
  assert.equal(existsSync(path), false);
});

/**
 * sockvisor run by bash with argument `raw` made by printf (\xff bytes and all): Node would decode
 * it before any test code could pass it.
 */
function runWithRawArgument(args: string[], raw: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise) => {
    const script = 'node="$1"; cli="$2"; raw=$(printf "$3"); shift 3; exec "$node" "$cli" --log-format json "$@" -s "$raw" -- sleep 9';
    execFile('bash', ['-c', script, 'bash', process.execPath, cliPath, raw, ...args], { timeout: 30000 }, (error, _stdout, stderr) =>
      resolvePromise({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
}

test('a socket path that is not UTF-8 is refused, not changed: nothing is created under any name', async () => {
  const folder = join(dir, 'bytes');
  mkdirSync(folder);
  const result = await runWithRawArgument([], `${folder}/a\\xff\\xfe.sock`);
  assert.equal(result.code, 2, result.stderr);
  const shown = `${folder.replace(/[.]/g, '\\.')}/a\\\\xff\\\\xfe\\.sock`;
  assert.match(result.stderr, new RegExp(`argument 4 \\('${shown}'\\) is not valid UTF-8.*rename the file or folder to a UTF-8 name`));
  assert.deepEqual(readdirSync(folder), []);
  // The same through SOCKVISOR_SOCKET.
  const env = await new Promise<{ code: number | null; stderr: string }>((resolvePromise) => {
    const script = 'SOCKVISOR_SOCKET=$(printf "$3") exec "$1" "$2" -- sleep 9';
    execFile('bash', ['-c', script, 'bash', process.execPath, cliPath, `${folder}/b\\xff.sock`], (error, _o, stderr) =>
      resolvePromise({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
  assert.equal(env.code, 2, env.stderr);
  assert.match(env.stderr, /the environment variable SOCKVISOR_SOCKET \('.*\/b\\xff\.sock'\) is not valid UTF-8/);
  assert.deepEqual(readdirSync(folder), []);
  // And through a config file (TOML is UTF-8; a Latin-1 file would be decoded with U+FFFD).
  const file = join(dir, 'latin1.toml');
  const latin1 = [Buffer.from(`socket = "${folder}/c`), Buffer.from([0xe9]), Buffer.from('.sock"\ncommand = ["sleep", "9"]\n')];
  writeFileSync(file, Buffer.concat(latin1));
  await refuses(['--config', file], /The config file '.*latin1\.toml' is not valid UTF-8, so its paths cannot be read as written/);
  assert.deepEqual(readdirSync(folder), []);
});

test('a U+FFFD really in the path is valid UTF-8: the socket is made under exactly that name', async () => {
  const path = join(dir, 'real-\u{fffd}.sock');
  const sv = startSockvisor(['-s', path, '--ready-after', '0.1', '--', 'sleep', '30']);
  try {
    await sv.waitFor((r) => r.event === 'child.ready');
    assert.ok(lstatSync(path).isSocket());
    const names = readdirSync(dir, { encoding: 'buffer' }).filter((n) => n.subarray(0, 5).equals(Buffer.from('real-')));
    assert.deepEqual(
      names.map((n) => n.toString('hex')),
      [Buffer.from('real-\u{fffd}.sock').toString('hex')],
    );
  } finally {
    await sv.stop();
  }
});

test('a newline or another control character in a socket path is refused, nothing created', async () => {
  const folder = join(dir, 'control');
  mkdirSync(folder);
  const result = await runWithRawArgument([], `${folder}/a\\nb.sock`);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /contains the control character \\\\x0a \(a newline\), which would break logs, unit files and nginx's/);
  await refuses(['-s', join(folder, 'tab\t.sock'), '--', 'sleep', '9'], /contains the control character \\x09/);
  assert.deepEqual(readdirSync(folder), []);
});

test('an open-file limit too low for Node to load sockvisor gets one sentence and exit 2', async () => {
  const run = (limit: number): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolvePromise) => {
      execFile('bash', ['-c', `ulimit -n ${limit}; exec "$0" "$1" --version`, process.execPath, cliPath], (error, stdout, stderr) =>
        resolvePromise({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });
  for (const limit of [20, 60]) {
    const low = await run(limit);
    assert.equal(low.code, 2, low.stderr);
    assert.equal(
      low.stderr,
      `sockvisor: the open-file limit (ulimit -n) is ${limit}, too low for sockvisor to start (it needs 128): ` +
        "raise it with 'ulimit -n 1024' before starting sockvisor, or LimitNOFILE=1024 in its systemd unit.\n",
    );
  }
  const enough = await run(128);
  assert.equal(enough.code, 0, enough.stderr);
  assert.match(enough.stdout, /^\d+\.\d+\.\d+\n$/);
});
