// Ids that exist only in another container: in a pod, nginx's uid (101 in the official image) and
// the fsGroup have no passwd or group entry in the app's image. sockvisor takes them as numbers for
// the socket's owner, group and ACL and for the child's user, as chown and setfacl would. Real
// uWSGI, real connect() from processes with exactly those ids (setpriv).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { lookupGroup, lookupUser } from '../../src/native.js';
import { httpGetUnix } from '../helpers/http.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-numeric-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

/** count ids from `from` up that name neither a user nor a group here. */
function unnamedIds(from: number, count: number): number[] {
  const ids: number[] = [];
  for (let id = from; ids.length < count; id++) if (!lookupUser(id) && !lookupGroup(id)) ids.push(id);
  return ids;
}

/** connect() to path from a process with exactly this uid, gid and groups: null when it connects, else the errno name. */
function connectWith(path: string, uid: number, gid: number, groups: number[]): string | null {
  const script =
    'import socket,sys,errno\ns=socket.socket(socket.AF_UNIX)\ntry:\n  s.connect(sys.argv[1]); print("ok")\n' +
    'except OSError as e:\n  print(errno.errorcode[e.errno])';
  const groupArgs = groups.length > 0 ? ['--groups', groups.join(',')] : ['--clear-groups'];
  const ids = ['--reuid', String(uid), '--regid', String(gid), ...groupArgs];
  const out = spawnSync('setpriv', [...ids, '--', '/usr/bin/python3', '-c', script, path], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim() === 'ok' ? null : out.stdout.trim();
}

/** The ids a process runs with (/proc/PID/status): real uid, real gid, supplementary groups. */
function idsOf(pid: number): { uid: number; gid: number; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  const numbers = (name: string): number[] => (field(name) === '' ? [] : field(name).split(/\s+/).map(Number));
  return { uid: numbers('Uid')[0]!, gid: numbers('Gid')[0]!, groups: numbers('Groups') };
}

test('--socket-owner UID:GID, --socket-allow UID, --user UID, none named: the socket and uWSGI get exactly those numbers', async () => {
  const [owner, group, nginxUid, appUid, stranger] = unnamedIds(4100, 5);
  const path = join(dir, 'numeric.sock');
  const sv = startSockvisor([
    '--socket-owner',
    `${owner}:${group}`,
    '--socket-allow',
    String(nginxUid),
    '--user',
    String(appUid),
    '-s',
    path,
    '--',
    UWSGI,
    ...uwsgiArgs(['--http-socket', path]),
  ]);
  const master = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready', 15000, 'uWSGI to be ready');
  const st = statSync(path);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [owner, group, 0o660]);
  assert.match(execFileSync('getfacl', ['-n', '-p', path], { encoding: 'utf8' }), new RegExp(`^user:${nginxUid}:rw-$`, 'm'));
  // A uid without a passwd entry runs with the gid of the same number and no other group (--group changes the gid).
  assert.deepEqual(idsOf(master), { uid: appUid, gid: appUid, groups: [appUid] });
  assert.equal((await httpGetUnix(path, '/')).status, 200);

  // Who gets in: the ACL's uid, anyone in the group, the owner; not another uid.
  assert.equal(connectWith(path, nginxUid!, nginxUid!, []), null);
  assert.equal(connectWith(path, stranger!, stranger!, [group!]), null);
  assert.equal(connectWith(path, owner!, owner!, []), null);
  assert.equal(connectWith(path, stranger!, stranger!, []), 'EACCES');
  // Numbers, said as numbers: nothing was looked up by a name that does not exist.
  const created = sv.records.find((r) => r.event === 'socket.created');
  const acl = ['user::rw-', `user:${nginxUid}:rw-`, 'group::rw-', 'mask::rw-', 'other::---'];
  assert.deepEqual([created?.owner, created?.group, created?.acl], [String(owner), String(group), acl]);
});

test('--socket-group GID and --user UID --group GID with no entry: the socket has that group, uWSGI that gid', async () => {
  const [group, appUid, appGid] = unnamedIds(4200, 3);
  const path = join(dir, 'group.sock');
  const ids = ['--socket-group', String(group), '--user', String(appUid), '--group', String(appGid)];
  const sv = startSockvisor([...ids, '-s', path, '--', UWSGI, ...uwsgiArgs(['--http-socket', path])]);
  const master = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready', 15000, 'uWSGI to be ready');
  const st = statSync(path);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, group, 0o660]);
  assert.deepEqual(idsOf(master), { uid: appUid, gid: appGid, groups: [appGid] });
  assert.equal(connectWith(path, appUid!, appUid!, [group!]), null);
  assert.equal(connectWith(path, appUid!, appUid!, []), 'EACCES');
});
