// Least privilege without sudo: a developer (an unprivileged user, not in www-data's group) lets
// nginx in with --socket-allow www-data: a 0600 socket plus one ACL entry. nginx as www-data gets
// 200, another unprivileged user is refused; on a file system without ACLs, exit 2 and nothing made.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { httpGet } from '../helpers/http.js';
import { startNginx, stopAllNginx } from '../helpers/nginx.js';
import { assertNothingLeft, childPid, runCli, runSockvisor, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir, mountRamfs } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let developer: TestUser;
let stranger: TestUser;
const ramfs = await mountRamfs();

before(async () => {
  dir = await makeTempDir('sockvisor-allow-');
  developer = createTestUser();
  stranger = createTestUser();
});
afterEach(async () => {
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(async () => {
  removeTestUser(developer);
  removeTestUser(stranger);
  await cleanupTempDirs();
});

/** connect() to path as a user, in a process of that user: null when it connects, else the errno name. */
function connectAsUser(path: string, user: { uid: number; gid: number }): string | null {
  const script =
    'import socket,sys,errno\ns=socket.socket(socket.AF_UNIX)\ntry:\n  s.connect(sys.argv[1]); print("ok")\nexcept OSError as e:\n  print(errno.errorcode[e.errno])';
  const out = spawnSync('/usr/bin/python3', ['-c', script, path], { uid: user.uid, gid: user.gid, encoding: 'utf8' }).stdout.trim();
  return out === 'ok' ? null : out;
}

test('--socket-allow www-data as an unprivileged user: socket 0600 + ACL, nginx gets 200, another user is refused, the 0700 home is named', async () => {
  const home = join(dir, `home-${developer.name}`);
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, developer.uid, developer.gid);
  const path = join(home, 'app.sock');
  const sv = startSockvisor(['-s', path, '--socket-mode', '0600', '--socket-allow', 'www-data', '--', UWSGI, ...uwsgiArgs()], {
    uid: developer.uid,
    gid: developer.gid,
  });
  const created = await sv.waitFor((r) => r.event === 'socket.created');
  const acl = ['user::rw-', 'user:www-data:rw-', 'group::---', 'mask::rw-', 'other::---']; // as getfacl prints it
  assert.deepEqual([created.owner, created.mode, created.fileMode, created.acl], [developer.name, '0600', '0660', acl]);
  const warning = sv.records.find((r) => r.event === 'config.warning');
  assert.ok(warning, 'no warning about the 0700 home folder');
  assert.match(warning.msg, new RegExp(`'www-data' cannot search the folder '${home}' \\(0700 ${developer.name}:${developer.name}\\)`));
  assert.doesNotMatch(warning.msg, /cannot write the socket/, 'the ACL entry was not taken into account');

  const nginx = await startNginx({ socketPath: path });
  await childPid(sv);
  assert.equal((await httpGet(nginx.port, '/')).status, 502, 'the warning was right: the home folder keeps nginx out');
  // The warning's second fix, as a developer would type it (no sudo: their own folder).
  execFileSync('chmod', ['o+x', home], { uid: developer.uid, gid: developer.gid });

  const response = await httpGet(nginx.port, '/');
  assert.equal(response.status, 200);
  assert.match(response.body, /hello from uWSGI/);
  // Link count 2: the socket and its anchor (.app.sock.sockvisor), linked by an unprivileged sockvisor too.
  assert.match(execFileSync('ls', ['-l', path], { encoding: 'utf8' }), new RegExp(`^srw-rw----\\+ 2 ${developer.name} ${developer.name} `));
  assert.deepEqual(execFileSync('getfacl', ['--omit-header', '--absolute-names', path], { encoding: 'utf8' }).trim().split('\n'), acl);
  assert.equal(connectAsUser(path, { uid: 33, gid: 33 }), null);
  assert.equal(connectAsUser(path, stranger), 'EACCES', 'another unprivileged user got in');

  // doctor says the same: www-data through its ACL entry, the stranger not at all.
  const ok = await runCli(['doctor', path]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(
    ok.stdout,
    /\[ok\] {3}www-data may write the socket: 0660\+ (\S+) \(ACL user:www-data:rw-,group::---,mask::rw-\), through the ACL entry user:www-data:rw- \(mask rw-\): rw-/,
  );
  const refused = await runCli(['doctor', path, '--as', stranger.name]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, new RegExp(`\\[FAIL\\] ${stranger.name} may write the socket: .* as other .*: ---`));
  assert.match(refused.stdout, new RegExp(`\\[FAIL\\] connect\\(\\) as ${stranger.name}: refused with EACCES, as the checks above say`));

  assert.equal((await sv.stop('SIGTERM')).code, 0);
  assert.equal(existsSync(path), false);
});

test(
  ramfs
    ? '--socket-allow on a file system without ACL support: exit 2 naming it, and nothing is created'
    : '--socket-allow without ACL support (skipped: this machine does not let the test mount a ramfs)',
  { skip: ramfs === null },
  async () => {
    const path = join(ramfs!, 'new', 'app.sock');
    const result = await runSockvisor(['-s', path, '--socket-allow', 'www-data', '--', UWSGI, ...uwsgiArgs()]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`The file system of '${ramfs}' \\(ramfs\\) has no POSIX ACL support, so --socket-allow cannot let anyone into '${path}'`),
    );
    assert.deepEqual(readdirSync(ramfs!), [], 'something was created');
    assert.ok(lstatSync(ramfs!).isDirectory());
  },
);
