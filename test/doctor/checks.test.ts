// doctor's verdicts on plain facts: which check fails, what nginx would log, what the fix is;
// nginx's error.log lines grouped; nearby sockets ranked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedNginxError, judgeSocket, type CheckContext } from '../../src/doctor/checks.js';
import { explainErrno, groupFailures, parseErrorLogLine } from '../../src/nginx/error-log.js';
import type { SocketFacts } from '../../src/doctor/facts.js';
import { rankNearby, readListeningSockets } from '../../src/doctor/nearby.js';
import type { FileOwnership } from '../../src/socket/access.js';

const who = { name: 'www-data', uid: 33, gid: 33, groups: [33], home: '/var/www' };
const ctx: CheckContext = { who, groupName: 'www-data', references: [] };
const own = (mode: number, uid = 0, gid = 0): FileOwnership => ({
  uid,
  gid,
  mode,
  owner: uid === 0 ? 'root' : 'alice',
  group: gid === 0 ? 'root' : gid === 33 ? 'www-data' : 'alice',
});
const root = { path: '/', ownership: own(0o755) };

function facts(over: Partial<SocketFacts>): SocketFacts {
  return {
    path: '/srv/app.sock',
    entry: { kind: 'socket', ownership: own(0o660, 0, 33) },
    folders: [root, { path: '/srv', ownership: own(0o755) }],
    probe: null,
    ...over,
  };
}

const statuses = (f: SocketFacts): Record<string, string> => Object.fromEntries(judgeSocket(f, ctx).map((c) => [c.id, c.status]));

test('a healthy socket passes every check and nginx would connect', () => {
  const f = facts({ probeAs: null });
  assert.deepEqual(statuses(f), {
    exists: 'pass',
    socket: 'pass',
    listening: 'pass',
    folders: 'pass',
    writable: 'pass',
    'connect-as': 'pass',
  });
  assert.equal(expectedNginxError(f, who), null);
});

test("each of the seed's failures fails its own check, and nginx's errno follows the kernel's order", () => {
  const perm = facts({ entry: { kind: 'socket', ownership: own(0o755) } });
  assert.equal(statuses(perm).writable, 'fail');
  assert.equal(expectedNginxError(perm, who)?.errno, 13);
  const fixes = judgeSocket(perm, ctx).find((c) => c.id === 'writable')!.fixes;
  assert.deepEqual(
    fixes.map((x) => x.command ?? x.text.split(':').pop()!.trim()),
    ['--socket-allow www-data', '--socket-group www-data (mode 0660)', 'setfacl -m u:www-data:rw /srv/app.sock'],
  );

  const home = facts({
    path: '/home/alice/app.sock',
    folders: [root, { path: '/home', ownership: own(0o755) }, { path: '/home/alice', ownership: own(0o700, 1000, 1000) }],
  });
  const folders = judgeSocket(home, ctx).find((c) => c.id === 'folders')!;
  assert.equal(folders.status, 'fail');
  assert.match(folders.detail!, /^'\/home\/alice' \(0700 alice:alice\) blocks it/);
  assert.equal(folders.fixes[0]!.command, 'setfacl -m u:www-data:x /home/alice');
  assert.equal(expectedNginxError(home, who)?.errno, 13);

  const missing = facts({
    entry: { kind: 'missing' },
    probe: undefined,
    nearby: [{ path: '/srv/main.sock', holder: { pid: 7, name: 'sockvisor' }, reason: 'in the same folder' }],
  });
  assert.deepEqual(statuses(missing), { exists: 'fail', socket: 'skip', listening: 'skip', folders: 'pass', writable: 'skip' });
  const exists = judgeSocket(missing, {
    ...ctx,
    references: [{ file: '/etc/nginx/sites-enabled/app', line: 12, directive: 'uwsgi_pass' }],
  })[0]!;
  assert.match(
    exists.fixes[0]!.text,
    /did you mean '\/srv\/main.sock' \(in the same folder, listening, held by sockvisor pid 7\)\? then point nginx at unix:\/srv\/main.sock at \/etc\/nginx\/sites-enabled\/app:12/,
  );
  assert.equal(expectedNginxError(missing, who)?.errno, 2);

  const stale = facts({ probe: 'ECONNREFUSED' });
  assert.equal(statuses(stale).listening, 'fail');
  assert.equal(expectedNginxError(stale, who)?.errno, 111);
  const busy = facts({ probe: 'EAGAIN' });
  assert.equal(expectedNginxError(busy, who)?.errno, 11);

  // A folder that blocks comes before a missing path, as in the kernel's path walk.
  const both = { ...missing, folders: [root, { path: '/srv', ownership: own(0o700) }] };
  assert.equal(expectedNginxError(both, who)?.errno, 13);
  // A regular file nginx may write: refused as not a socket.
  assert.equal(expectedNginxError(facts({ entry: { kind: 'file', ownership: own(0o666) }, probe: undefined }), who)?.errno, 111);
});

test('as root, connect() as the user is the last word, and a disagreement with the bits is said', () => {
  const lsm = judgeSocket(facts({ probeAs: 'EACCES' }), ctx).at(-1)!;
  assert.deepEqual([lsm.id, lsm.status], ['connect-as', 'fail']);
  assert.match(lsm.detail!, /although every permission bit lets it in/);
  assert.match(lsm.fixes[0]!.text, /AppArmor or SELinux/);
  const refused = facts({ entry: { kind: 'socket', ownership: own(0o755) }, probeAs: 'EACCES' });
  assert.match(judgeSocket(refused, ctx).at(-1)!.detail!, /refused with EACCES, as the checks above say/);
  assert.equal(expectedNginxError(facts({ probeAs: 'EACCES' }), who)?.errno, 13);
});

test('error.log lines: failed unix connects parsed, grouped by socket and errno, explained', () => {
  const lines = [
    '2024/05/01 12:00:00 [crit] 812#812: *9 connect() to unix:/run/app.sock failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "uwsgi://unix:/run/app.sock:", host: "x"',
    '2024/05/01 12:00:05 [crit] 812#812: *10 connect() to unix:/run/app.sock failed (13: Permission denied) while connecting to upstream',
    '2024/05/01 12:01:00 [error] 812#812: *11 connect() to unix:/run/app.sock failed (111: Connection refused) while connecting to upstream',
    '2024/05/01 12:02:00 [error] 812#812: *12 connect() to unix:/run/other.sock failed (11: Resource temporarily unavailable) while connecting to upstream',
    '2024/05/01 12:03:00 [notice] 811#811: signal process started',
    '2024/05/01 12:04:00 [error] 812#812: *13 connect() failed (111: Connection refused) while connecting to upstream, upstream: "http://127.0.0.1:8000/"',
  ];
  const groups = groupFailures(lines.map(parseErrorLogLine).filter((f) => f !== null));
  assert.deepEqual(
    groups.map((g) => [g.path, g.failures.map((f) => [f.errno, f.count, f.first, f.last])]),
    [
      [
        '/run/app.sock',
        [
          [13, 2, '2024/05/01 12:00:00', '2024/05/01 12:00:05'],
          [111, 1, '2024/05/01 12:01:00', '2024/05/01 12:01:00'],
        ],
      ],
      ['/run/other.sock', [[11, 1, '2024/05/01 12:02:00', '2024/05/01 12:02:00']]],
    ],
  );
  assert.match(explainErrno(13, 'www-data'), /www-data may not write the socket/);
});

test("nearby sockets: the same folder first, then the same name; other programs' sockets and control sockets are left out", () => {
  const listening = readListeningSockets(
    'Num       RefCount Protocol Flags    Type St Inode Path\n' +
      '0000000000000000: 00000002 00000000 00010000 0001 01 101 /run/app/main.sock\n' +
      '0000000000000000: 00000002 00000000 00010000 0001 01 102 /srv/other/app.sock\n' +
      '0000000000000000: 00000003 00000000 00000000 0001 03 103 /run/app/conn.sock\n' +
      '0000000000000000: 00000002 00000000 00010000 0001 01 104 @abstract\n' +
      '0000000000000000: 00000002 00000000 00010000 0001 01 105 /run/app/db.sock\n' +
      '0000000000000000: 00000002 00000000 00010000 0001 01 106 /run/app/.main.sock.sockvisor.ctl\n',
  );
  assert.deepEqual(
    listening.map((s) => s.inode),
    [101, 102, 105, 106],
  );
  const holders: Record<number, { pid: number; name: string }> = {
    101: { pid: 1, name: 'sockvisor' },
    102: { pid: 2, name: 'uWSGI' },
    105: { pid: 3, name: 'postgres' },
    106: { pid: 1, name: 'sockvisor' },
  };
  const ranked = rankNearby(
    '/run/app/app.sock',
    listening.map((s) => ({ ...s, holder: holders[s.inode] ?? null })),
  );
  assert.deepEqual(
    ranked.map((n) => [n.path, n.reason]),
    [
      ['/run/app/main.sock', 'in the same folder'],
      ['/srv/other/app.sock', 'the same name in another folder'],
    ],
  );
});
