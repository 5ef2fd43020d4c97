// doctor against the seed's failures as a real nginx (workers as www-data) meets them: a 0755
// socket uWSGI made itself, a 0700 folder, a path where nothing is, a socket nobody listens on.
// doctor's verdict and nginx's error.log must name the same errno for each; after the fix doctor
// prints (run exactly as printed, or the option it names), nginx gets 200.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import type { Check } from '../../src/doctor/checks.js';
import type { DoctorReport, SocketReport } from '../../src/doctor/doctor.js';
import { closeFd, lookupGroup, lookupUser } from '../../src/native.js';
import { httpGet } from '../helpers/http.js';
import { nginxConfWith, startNginx, stopAllNginx } from '../helpers/nginx.js';
import { assertNothingLeft, childPid, runCli, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { makeUnixSocket } from '../helpers/unix-socket.js';
import { startRawUwsgi, stopAllRawUwsgis, UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

let dir: string;
let oldUmask: number;
before(async () => {
  dir = await makeTempDir('sockvisor-doctor-');
  oldUmask = process.umask(0o022); // a usual root shell: uWSGI binds its socket 0755
});
afterEach(async () => {
  await stopAllRawUwsgis();
  await stopAllSockvisors();
  await stopAllNginx();
  await assertNothingLeft();
});
after(async () => {
  process.umask(oldUmask);
  await cleanupTempDirs();
});

/** `errno` of nginx's `connect() to unix:PATH failed (N: ...)` lines, by path. */
function loggedErrnos(errorLog: string): Map<string, Set<number>> {
  const found = new Map<string, Set<number>>();
  for (const match of errorLog.matchAll(/connect\(\) to unix:(\S+) failed \((\d+): [^)]*\)/g)) {
    const set = found.get(match[1]!) ?? new Set<number>();
    set.add(Number(match[2]));
    found.set(match[1]!, set);
  }
  return found;
}

async function doctorJson(args: string[]): Promise<{ code: number; report: DoctorReport }> {
  const { code, stdout, stderr } = await runCli(['doctor', ...args, '--json']);
  assert.ok(stdout.startsWith('{'), `doctor printed no JSON (exit ${code}): ${stdout}${stderr}`);
  return { code, report: JSON.parse(stdout) as DoctorReport };
}

function socketOf(report: DoctorReport, path: string): SocketReport {
  const socket = report.sockets.find((s) => s.path === path);
  assert.ok(socket, `doctor did not check ${path}; it checked ${report.sockets.map((s) => s.path).join(', ')}`);
  return socket;
}

function failed(socket: SocketReport): Check[] {
  return socket.checks.filter((c) => c.status === 'fail');
}

/** Runs a fix's command exactly as doctor printed it. */
function applyFix(check: Check): void {
  const fix = check.fixes.find((f) => f.command);
  assert.ok(fix?.command, `the failed check '${check.id}' offers no command to run`);
  execFileSync('/bin/sh', ['-c', fix.command], { stdio: 'inherit' });
}

test("the seed's four failures: doctor --nginx and --explain-log agree with nginx's error.log, and nginx gets 200 after doctor's fixes", async () => {
  const perm = join(dir, 'perm', 'app.sock'); // uWSGI binds it itself: 0755 root:root
  const home = join(dir, 'home'); // a 0700 home folder
  const homed = join(home, 'app.sock');
  const lost = join(dir, 'lost', 'app.sock'); // nginx's path; the app listens on main.sock beside it
  const held = join(dir, 'lost', 'main.sock');
  const stale = join(dir, 'stale.sock'); // a socket file nobody listens on
  mkdirSync(join(dir, 'perm'));
  mkdirSync(join(dir, 'lost'));
  mkdirSync(home, { mode: 0o700 });
  chmodSync(home, 0o700);

  await startRawUwsgi(perm);
  const homeSv = startSockvisor(['-s', homed, '--', UWSGI, ...uwsgiArgs()]);
  const heldSv = startSockvisor(['-s', held, '--', UWSGI, ...uwsgiArgs()]);
  closeFd(makeUnixSocket({ path: stale, uid: 0, gid: 33, mode: 0o660, backlog: 1 }).fd);
  await Promise.all([childPid(homeSv), childPid(heldSv)]);
  // run warned at start, with the same verdict doctor gives below.
  assert.ok(homeSv.records.some((r) => r.event === 'config.warning' && r.msg.includes(`cannot search the folder '${home}'`)));

  // The /home/ location is written by nginx-snippet from the same -s value; the upstream and the
  // snippet live in files nginx.conf includes.
  const snippet = await runCli(['nginx-snippet', '-s', homed, '--location', '/home/', '--params', '/etc/nginx/uwsgi_params']);
  assert.equal(snippet.code, 0, snippet.stderr);
  const nginx = await startNginx({
    files: (prefix, port) => ({
      'nginx.conf': nginxConfWith(prefix, port, {
        http: `include ${prefix}/upstreams.conf;`,
        server: [
          `location /perm/ { include /etc/nginx/uwsgi_params; uwsgi_pass perm_app; }`,
          `include ${prefix}/home.conf;`,
          `location /lost/ { include /etc/nginx/uwsgi_params; uwsgi_pass unix:${lost}; }`,
          `location /stale/ { include /etc/nginx/uwsgi_params; uwsgi_pass unix:${stale}; }`,
        ].join('\n    '),
      }),
      'upstreams.conf': `# the app behind an upstream\nupstream perm_app {\n  server unix:${perm} max_fails=0;\n}\n`,
      'home.conf': snippet.stdout,
    }),
  });
  for (const location of ['/perm/', '/home/', '/lost/', '/stale/']) {
    assert.equal((await httpGet(nginx.port, location)).status, 502, `GET ${location} before the fixes`);
  }
  const logged = loggedErrnos(await nginx.errorLogText());
  assert.deepEqual(
    [perm, homed, lost, stale].map((p) => [...(logged.get(p) ?? [])]),
    [[13], [13], [2], [111]],
    'nginx logged other errors than the seed describes',
  );

  const nginxArgs = ['-c', nginx.conf, '-p', nginx.prefix];
  const { code, report } = await doctorJson(['--nginx', ...nginxArgs]);
  assert.equal(code, 1);
  assert.equal(report.user.name, 'www-data');
  assert.deepEqual(report.nginx?.user?.place, { file: nginx.conf, line: 1 });
  assert.equal(report.confirmedByConnect, true);
  for (const path of [perm, homed, lost, stale]) {
    const socket = socketOf(report, path);
    assert.deepEqual(
      socket.nginxWouldLog && [socket.nginxWouldLog.errno],
      [...logged.get(path)!],
      `doctor and error.log disagree on ${path}`,
    );
  }

  // Each named with its file and line, through the include and the upstream.
  const permReport = socketOf(report, perm);
  assert.deepEqual(
    permReport.references.map((r) => [r.directive, r.file, r.line, r.upstream]),
    [['server', join(nginx.prefix, 'upstreams.conf'), 3, 'perm_app']],
  );
  assert.equal(permReport.references[0]!.usedBy![0]!.file, nginx.conf);
  assert.deepEqual(
    failed(permReport).map((c) => c.id),
    ['writable', 'connect-as'],
  );
  assert.match(failed(permReport)[0]!.detail!, /0755 root:root, as other .*r-x/);

  const homeReport = socketOf(report, homed);
  assert.deepEqual(
    homeReport.references.map((r) => [r.directive, r.file, r.line]),
    [['uwsgi_pass', join(nginx.prefix, 'home.conf'), 3]],
  );
  const folders = failed(homeReport)[0]!;
  assert.equal(folders.id, 'folders');
  assert.match(folders.detail!, new RegExp(`'${home}' \\(0700 root:root\\) blocks it`));

  const lostReport = socketOf(report, lost);
  assert.deepEqual(
    failed(lostReport).map((c) => c.id),
    ['exists'],
  );
  const lostFix = failed(lostReport)[0]!.fixes[0]!.text;
  assert.match(lostFix, new RegExp(`did you mean '${held}' \\(in the same folder, listening, held by sockvisor pid ${heldSv.pid}\\)`));
  assert.ok(lostFix.includes(`${nginx.conf}:`), `the fix does not name nginx's file and line: ${lostFix}`);

  assert.deepEqual(
    failed(socketOf(report, stale)).map((c) => c.id),
    ['listening'],
  );

  // --explain-log finds nginx's error_log through nginx -T, and explains each group.
  const explained = await doctorJson(['--explain-log', ...nginxArgs]);
  assert.equal(explained.code, 1);
  assert.deepEqual(
    explained.report.logs?.map((l) => l.file),
    [join(nginx.prefix, 'error.log')],
  );
  for (const path of [perm, homed, lost, stale]) {
    const socket = socketOf(explained.report, path);
    assert.deepEqual(
      socket.log.map((f) => f.errno),
      [...logged.get(path)!],
    );
    assert.equal(socket.nginxWouldLog?.errno, socket.log[0]!.errno);
  }
  const text = await runCli(['doctor', '--explain-log', ...nginxArgs]);
  assert.match(text.stdout, new RegExp(`error.log: \\d+ x \\(13: Permission denied\\).*www-data may not write the socket`));
  assert.match(text.stdout, /\[FAIL\] www-data can search every folder above it/);

  // The fixes, as doctor gives them.
  applyFix(failed(permReport)[0]!); // setfacl -m u:www-data:rw PATH
  applyFix(folders); // setfacl -m u:www-data:x HOME
  startSockvisor(['-s', lost, '--', UWSGI, ...uwsgiArgs()]); // "start the server on it behind sockvisor"
  startSockvisor(['-s', stale, '--', UWSGI, ...uwsgiArgs()]); // the same, replacing the stale file
  const healed = async (): Promise<DoctorReport> => {
    for (let i = 0; ; i++) {
      const again = await doctorJson(['--nginx', ...nginxArgs]);
      if (again.code === 0 || i === 100) return again.report;
      await new Promise((r) => setTimeout(r, 100)); // uWSGI starting
    }
  };
  const after = await healed();
  assert.equal(
    after.ok,
    true,
    JSON.stringify(
      after.sockets.filter((s) => !s.ok),
      null,
      2,
    ),
  );
  for (const location of ['/perm/', '/home/', '/lost/', '/stale/']) {
    const response = await httpGet(nginx.port, location);
    assert.equal(response.status, 200, `GET ${location} after the fix`);
  }
  for (const path of [perm, homed, lost, stale]) {
    assert.equal(socketOf(after, path).nginxWouldLog, null, `doctor still expects nginx to fail on ${path}`);
  }
});

test('bad usage exits 2 with one sentence (also as JSON); a broken nginx configuration, an error log given by hand and a left-behind file get verdicts', async () => {
  const none = await runCli(['doctor']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Nothing to check: name the socket/);
  const who = await runCli(['doctor', '--as', 'nosuchuser', '/tmp/x.sock', '--json']);
  assert.equal(who.code, 2);
  assert.match(JSON.parse(who.stdout).error.message as string, /user 'nosuchuser' given to --as does not exist/);
  const log = await runCli(['doctor', '--explain-log', join(dir, 'no-such.log')]);
  assert.equal(log.code, 2);
  assert.match(log.stderr, /cannot be read \(ENOENT\)/);

  // A configuration nginx refuses is a failed check, not bad usage.
  writeFileSync(join(dir, 'broken.conf'), 'events {}\nhttp { server { listen 127.0.0.1:1; location / { uwsgi_pass; } } }\n');
  const broken = await runCli(['doctor', '--nginx', '-c', join(dir, 'broken.conf'), '-p', dir]);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /\[FAIL\] nginx's configuration loads \(nginx -T -p .*\): .*invalid number of arguments in "uwsgi_pass"/);

  // --explain-log FILE: a log given by hand, without nginx -T.
  const logFile = join(dir, 'old-error.log');
  const gone = join(dir, 'gone.sock');
  writeFileSync(
    logFile,
    `2024/05/01 12:00:00 [crit] 9#9: *1 connect() to unix:${gone} failed (2: No such file or directory) while connecting to upstream\n`.repeat(
      3,
    ),
  );
  const explained = await doctorJson(['--explain-log', logFile]);
  assert.equal(explained.code, 1);
  assert.deepEqual(
    explained.report.sockets.map((s) => [s.path, s.log.map((f) => [f.errno, f.count]), s.nginxWouldLog?.errno]),
    [[gone, [[2, 3]], 2]],
  );

  const file = join(dir, 'left-behind.sock');
  writeFileSync(file, '');
  const { code, report } = await doctorJson([file, '--as', 'nobody']);
  assert.equal(code, 1);
  assert.equal(report.user.name, 'nobody');
  const check = failed(report.sockets[0]!)[0]!;
  assert.equal(check.id, 'socket');
  assert.match(check.detail!, /a regular file/);
});

test("--as UID --groups GID: ids that exist only in another container (nginx's 101, a fsGroup) are checked and confirmed", async () => {
  // Numbers no passwd or group entry names here, as nginx's in a sidecar container.
  const free: number[] = [];
  for (let id = 4300; free.length < 2; id++) if (!lookupUser(id) && !lookupGroup(id)) free.push(id);
  const [uid, gid] = free as [number, number];
  const path = join(dir, 'pod.sock');
  const socket = makeUnixSocket({ path, mode: 0o660, uid: 0, gid, backlog: 8 });
  try {
    const alone = await doctorJson([path, '--as', String(uid)]);
    assert.equal(alone.code, 1);
    assert.deepEqual(
      failed(alone.report.sockets[0]!).map((c) => c.id),
      ['writable', 'connect-as'],
    );
    assert.deepEqual(
      alone.report.user.groups.map((g) => g.gid),
      [uid],
    );

    const grouped = await doctorJson([path, '--as', String(uid), '--groups', String(gid)]);
    assert.equal(grouped.code, 0, JSON.stringify(grouped.report.sockets[0]!.checks));
    assert.deepEqual(
      grouped.report.user.groups.map((g) => [g.gid, g.name]),
      [
        [uid, String(uid)],
        [gid, String(gid)],
      ],
    );
    assert.equal(grouped.report.confirmedByConnect, true);
    assert.match(grouped.report.user.source, /--as, groups from --groups/);

    const unknown = await runCli(['doctor', path, '--as', String(uid), '--groups', 'nosuchgroup']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /The group 'nosuchgroup' given to --groups does not exist on this machine/);
  } finally {
    closeFd(socket.fd);
  }
});
