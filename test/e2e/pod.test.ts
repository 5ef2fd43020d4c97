// A Kubernetes pod (or a docker compose project) simulated with namespaces: an nginx "container"
// and an app "container" (sockvisor as its PID 1, uWSGI below it), each in mount and pid namespaces
// of its own with its own /etc/passwd and /etc/group, sharing only the socket's folder, as an
// emptyDir does. The app side runs examples/container/sockvisor.toml itself, so the example and
// this test cannot drift apart. The two share the host's network namespace, as a pod's containers
// share one: nginx listens on a free port of 127.0.0.1.
//
// No user namespaces: a pod's containers run in none by default (hostUsers: true), so the ids on
// the volume are the host's, as here; and util-linux's unshare maps more than one id only through
// newuidmap (the uidmap package), while nginx's workers (101) and uWSGI (1000) need several.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, test } from 'node:test';
import { readPodExample, sockvisorToml, manifestOf } from '../helpers/examples.js';
import { httpGet, loadLoop } from '../helpers/http.js';
import { nginxConfWith, startNginx, stopAllNginx, type RunningNginx } from '../helpers/nginx.js';
import { childrenOf, identify, uidOf, waitUntil } from '../helpers/proc.js';
import { assertNothingLeft, cliPath, runSockvisor, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import type { NamespaceSetup, SockvisorProcess } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const example = readPodExample();
const { socketPath, socketDir, socketGroup, allowUid: nginxUid, appUid } = example;
/** The socket as the test sees it: the volume's folder on the host. */
let hostSocket: string;
let volume: string;
let nginx: RunningNginx;
let appSetup: NamespaceSetup;

/** The app's folder in the image (examples/container/Dockerfile copies app.py there), from the config's --wsgi-file. */
function appFolder(): string {
  const command = example.config.command ?? [];
  const file = command[command.indexOf('--wsgi-file') + 1];
  assert.ok(file, `${sockvisorToml} gives uWSGI no --wsgi-file`);
  return dirname(file);
}

/**
 * The mounts both containers get: a private tmpfs above the socket's folder (the host's /run is
 * untouched), the volume bound in, their own passwd and group.
 */
const containerMounts = `mount -t tmpfs -o mode=0755 sockvisor-pod "$(dirname "$1")"
mkdir "$1"
mount --bind "$2" "$1"
mount --bind "$3/passwd" /etc/passwd
mount --bind "$3/group" /etc/group`;

/** An /etc of a container image: its passwd and group files. */
function writeEtc(dir: string, passwd: string, group: string): string {
  mkdirSync(dir);
  writeFileSync(join(dir, 'passwd'), passwd);
  writeFileSync(join(dir, 'group'), group);
  return dir;
}

/**
 * nginx.conf of the sidecar: the example's server block (listening on a free port here) in the test
 * skeleton, workers as `nginx` like the official image.
 */
function sidecarFiles(prefix: string, port: number): Record<string, string> & { 'nginx.conf': string } {
  const body = /server\s*\{([\s\S]*)\}\s*$/.exec(example.nginxServer)?.[1];
  assert.ok(body && /^\s*listen 8080;$/m.test(body), 'examples/container/nginx.conf should have one server listening on 8080');
  return {
    'nginx.conf': nginxConfWith(prefix, port, { server: body.replace(/^\s*listen 8080;\n/m, ''), user: 'nginx' }),
    uwsgi_params: readFileSync('/etc/nginx/uwsgi_params', 'utf8'),
  };
}

before(async () => {
  const root = await makeTempDir('sockvisor-pod-');
  // The emptyDir as the kubelet leaves it with fsGroup: group 2000 and setgid, so what is made in it is group 2000 too.
  volume = join(root, 'volume');
  mkdirSync(volume);
  chownSync(volume, 0, socketGroup);
  chmodSync(volume, 0o2777);
  hostSocket = join(volume, basename(socketPath));
  // The official nginx image: uid 101 is `nginx`; the fsGroup has no name there.
  const nginxEtc = writeEtc(
    join(root, 'nginx-etc'),
    `root:x:0:0:root:/root:/bin/sh\nnginx:x:${nginxUid}:${nginxUid}:nginx user:/nonexistent:/bin/false\n`,
    `root:x:0:\nnginx:x:${nginxUid}:\n`,
  );
  // The app image (Debian): www-data as Debian's base-passwd has it, and the app user; no uid 101, no group 2000.
  const appEtc = writeEtc(
    join(root, 'app-etc'),
    'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n' +
      `app:x:${appUid}:${appUid}::/nonexistent:/usr/sbin/nologin\n`,
    `root:x:0:\nwww-data:x:33:\napp:x:${appUid}:\n`,
  );
  const appSrc = join(root, 'app');
  mkdirSync(appSrc);
  copyFileSync(join(dirname(sockvisorToml), '..', 'app.py'), join(appSrc, 'app.py'));
  const noNginx = join(root, 'empty');
  mkdirSync(noNginx);
  // The app side: no nginx is installed in the app image, so its /etc/nginx is empty.
  appSetup = {
    script: `${containerMounts}
mount -t tmpfs -o mode=0755 sockvisor-pod "$(dirname "$5")"
mkdir "$5"
mount --bind "$4" "$5"
if [ -d /etc/nginx ]; then mount --bind "$6" /etc/nginx; fi`,
    args: [socketDir, volume, appEtc, appSrc, appFolder(), noNginx],
  };
  // The emptyDir as the kubelet makes it is refused: anyone in the pod could rename a socket over sockvisor's.
  const refused = await runAppSide();
  assert.equal(refused.code, 2);
  const folder =
    `The folder '${socketDir}' \\(2777 root:${socketGroup}\\), which would hold the socket '${socketPath}', ` +
    'can be written by every user';
  assert.match(refused.stderr, new RegExp(folder));
  // The example's init container, run as the kubelet would: in the app image's namespace, before the app container.
  const init = manifestOf(example, 'Deployment').spec.template.spec.initContainers[0].command as string[];
  await run('unshare', ['--mount', 'sh', '-ec', `${containerMounts}\nshift 3\nexec "$@"`, 'sh', socketDir, volume, appEtc, ...init]);
  assert.equal(statSync(volume).mode & 0o7777, 0o2755);
  // The nginx side: the kubelet gives every process of the container the fsGroup as a supplementary group.
  const nginxScript = `${containerMounts}\nshift 3\nexec setpriv --groups 0,${socketGroup} -- "$@"`;
  nginx = await startNginx({
    files: sidecarFiles,
    wrap: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-ec', nginxScript, 'sh', socketDir, volume, nginxEtc],
  });
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(async () => {
  await stopAllNginx();
  await cleanupTempDirs();
});

// The example's probe port (:8081) would collide on this shared host: the kernel picks one instead.
const appSideOptions = (): Parameters<typeof startSockvisor>[1] => ({
  namespace: 'pid1',
  setup: appSetup,
  env: { SOCKVISOR_PROBE: '127.0.0.1:0' },
});

/** The app container: sockvisor with the example's config as PID 1 of its namespaces. */
function startAppSide(): SockvisorProcess {
  return startSockvisor(['--config', sockvisorToml], appSideOptions());
}

/** An app container that is expected to end by itself (refused): exit code and output. */
function runAppSide(): ReturnType<typeof runSockvisor> {
  return runSockvisor(['--config', sockvisorToml], appSideOptions());
}

/** Waits until the app side's first (or next, after `after`) uWSGI is ready; its pid as the host sees it. */
async function readyUwsgi(sv: SockvisorProcess, after = 0): Promise<number> {
  const ready = (): number => sv.records.filter((r) => r.event === 'child.ready').length;
  await sv.waitFor(() => ready() > after, 20000, 'uWSGI to be ready');
  const pid1 = await sv.sockvisorPid();
  let master: number | undefined;
  const found = await waitUntil(() => (master = childrenOf(pid1).find((pid) => uidOf(pid) === appUid)) !== undefined, 5000);
  assert.ok(found, `no child of uid ${appUid} below ${pid1}`);
  return master!;
}

/**
 * What the kubelet does to stop a pod: SIGTERM to the container's PID 1, then SIGKILL once
 * terminationGracePeriodSeconds have passed. uWSGI usually stops in about a second; when SIGINT
 * reaches it just after READY=1, one of its workers may not die of it, and sockvisor's SIGKILL after
 * --stop-timeout ends it: still within the grace period, still exit 0.
 */
async function stopLikeKubelet(sv: SockvisorProcess): Promise<{ code: number | null; tookMs: number }> {
  const graceS = manifestOf(example, 'Deployment').spec.template.spec.terminationGracePeriodSeconds as number;
  const t0 = performance.now();
  process.kill(await sv.sockvisorPid(), 'SIGTERM');
  const timer = setTimeout(() => sv.proc.kill('SIGKILL'), graceS * 1000);
  const { code } = await sv.exited;
  clearTimeout(timer);
  const tookMs = performance.now() - t0;
  assert.ok(tookMs < graceS * 1000, `stopping took ${Math.round(tookMs)} ms: the kubelet would have killed it after ${graceS} s`);
  return { code, tookMs };
}

/** The supplementary groups of pid (the Groups: line of /proc/PID/status). */
function groupsOf(pid: number): number[] {
  const line = /^Groups:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
  return line.trim() === '' ? [] : line.trim().split(/\s+/).map(Number);
}

test("200 through nginx; kill -9 of uWSGI loses no request, the app side's PID 1 keeps running; doctor agrees as uid 101", async (t) => {
  const sv = startAppSide();
  const master = await readyUwsgi(sv);
  assert.equal(uidOf(master), appUid, 'uWSGI does not run as the app user');
  // The socket on the volume: root:2000 0660, and nginx's uid let in by number (it has no name here).
  const st = statSync(hostSocket);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, socketGroup, 0o660]);
  const { stdout: acl } = await run('getfacl', ['-n', '-p', hostSocket]);
  assert.match(acl, new RegExp(`^user:${nginxUid}:rw-$`, 'm'));
  // The app image has no nginx: sockvisor warns about nobody (no guessed www-data that is not the sidecar's user).
  assert.deepEqual(
    sv.records.filter((r) => r.event === 'config.warning').map((r) => r.msg),
    [],
  );

  // The sidecar's workers run as 101, and without the fsGroup: nginx's master (root) set their
  // groups from its own /etc/group (initgroups). The ACL entry is what lets them in.
  const workers = childrenOf(nginx.masterPid);
  assert.ok(workers.length > 0);
  for (const w of workers) {
    assert.equal(uidOf(w), nginxUid);
    assert.ok(!groupsOf(w).includes(socketGroup), `nginx worker ${w} has groups ${groupsOf(w).join(',')}`);
  }
  assert.ok(groupsOf(nginx.masterPid).includes(socketGroup), "nginx's master did not get the fsGroup");
  const first = await httpGet(nginx.port);
  assert.equal(first.status, 200, first.body);
  assert.match(first.body, /^hello from uWSGI pid \d+/);

  // kill -9 of the uWSGI master under a request loop through nginx.
  const load = loadLoop(nginx.port);
  await new Promise((r) => setTimeout(r, 400));
  process.kill(master, 'SIGKILL');
  const next = await readyUwsgi(sv, 1);
  assert.notEqual(next, master);
  await new Promise((r) => setTimeout(r, 400));
  const results = await load.stop();
  const failed = results.filter((r) => r.status !== 200);
  assert.ok(results.length >= 10, `only ${results.length} requests were made`);
  // nginx always reaches the socket (no connect() failure of any kind). A connection one of the
  // killed master's 2 workers had already accepted when it killed itself is uWSGI's to lose: nginx
  // answers it 502 ("upstream prematurely closed"); rare, and at most one per worker
  // (docs/usage.md, 'Other servers').
  const upstream = (await nginx.errorLogText()).split('\n').filter((l) => l.includes('upstream'));
  assert.deepEqual(
    upstream.filter((l) => /connect\(\) to unix:\S+ failed/.test(l)),
    [],
    'nginx could not connect to the socket',
  );
  const closedByWorker = upstream.filter((l) => /prematurely closed|Connection reset by peer/.test(l)).length;
  assert.ok(
    failed.every((r) => r.status === 502) && failed.length <= closedByWorker && failed.length <= 2,
    `${failed.length} of ${results.length} requests failed across kill -9 of uWSGI:\n${upstream.join('\n')}`,
  );
  assert.equal(sv.proc.exitCode, null, "the app side's PID 1 exited");
  const slowest = Math.round(Math.max(...results.map((r) => r.latencyMs)));
  t.diagnostic(`kill -9 of uWSGI: ${results.length} requests through nginx, ${failed.length} failed, slowest ${slowest} ms`);

  // doctor, run in the app container, checks as nginx's uid (a number there) and confirms by connecting.
  const pid1 = await sv.sockvisorPid();
  const doctor = (args: string[]): Promise<{ stdout: string }> =>
    run('nsenter', ['-t', String(pid1), '-m', '-p', '--', process.execPath, cliPath, 'doctor', socketPath, '--json', ...args]);
  const asNginx = JSON.parse((await doctor(['--as', String(nginxUid)])).stdout) as { ok: boolean; confirmedByConnect: boolean };
  assert.deepEqual([asNginx.ok, asNginx.confirmedByConnect], [true, true]);
  // Any other uid gets in only with the fsGroup, which --groups gives it.
  const other = String(nginxUid + 4000);
  await assert.rejects(doctor(['--as', other]), (error: { code?: number }) => error.code === 1);
  const withGroup = JSON.parse((await doctor(['--as', other, '--groups', String(socketGroup)])).stdout) as typeof asNginx;
  assert.deepEqual([withGroup.ok, withGroup.confirmedByConnect], [true, true]);
});

test("SIGTERM to the app side's PID 1 (docker stop, the kubelet) stops it within the grace period, exit 0, socket removed", async (t) => {
  const sv = startAppSide();
  await readyUwsgi(sv);
  assert.equal((await httpGet(nginx.port)).status, 200);
  const { code, tookMs } = await stopLikeKubelet(sv);
  t.diagnostic(`stopped in ${Math.round(tookMs)} ms`);
  assert.equal(code, 0);
  assert.ok(!existsSync(hostSocket), 'the socket was left on the volume');
  assert.ok(!existsSync(join(volume, `.${basename(socketPath)}.sockvisor`)), 'the anchor was left on the volume');
});

test('a new app side takes over the stale socket of one killed with kill -9, and refuses a live one with exit 2', async () => {
  const sv = startAppSide();
  await readyUwsgi(sv);
  // The inode number alone may be reused at once: the birth time tells two files apart.
  const live = identify(hostSocket);
  // A second app container while the first serves (two replicas sharing a volume by mistake): refused.
  const second = await runAppSide();
  assert.equal(second.code, 2);
  const busy = `A server is already listening on '${socketPath}' \\(another sockvisor or uWSGI\\?\\): stop it first`;
  assert.match(second.stderr, new RegExp(busy));
  assert.deepEqual(identify(hostSocket), live, 'the refused app side touched the live socket');
  assert.equal((await httpGet(nginx.port)).status, 200);

  // kill -9 of PID 1: the kernel ends the whole container; the socket stays on the volume, stale.
  process.kill(await sv.sockvisorPid(), 'SIGKILL');
  await sv.exited;
  assert.ok(existsSync(hostSocket), 'no stale socket was left: the restart below proves nothing');
  assert.equal((await httpGet(nginx.port)).status, 502);
  const restarted = startAppSide();
  await readyUwsgi(restarted);
  assert.notEqual(identify(hostSocket).birth, live.birth, 'the stale socket was not replaced');
  const answer = await httpGet(nginx.port);
  assert.equal(answer.status, 200, answer.body);
  // Gone as it came (the stop itself is the test above): nothing of it may be left.
  process.kill(await restarted.sockvisorPid(), 'SIGKILL');
  await restarted.exited;
});
