// The socket's folder made again while a user who may write the folder above swaps a symlink in for
// it: sockvisor (root) must never chmod, chown or link anything the symlink leads to, and must go on
// healing. The attacker is a real user (useradd) running a python3 racer under setpriv; sockvisor
// runs real uWSGI as that same user (the child's user: a folder it may write stays allowed at start).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { openFds, waitUntil } from '../helpers/proc.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors, type LogRecord } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { createTestUser, removeTestUser, type TestUser } from '../helpers/users.js';
import { UWSGI, uwsgiArgs } from '../helpers/uwsgi.js';

// Each round: lnk made a symlink to the target, the socket's folder renamed away (sockvisor makes
// it again), then renameat2(sub, lnk, RENAME_EXCHANGE) spun until it lands: the folder just
// made and the symlink trade names, ideally between sockvisor's mkdir and its chmod.
const RACER = `
import ctypes, os, sys, time
att, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE, SYS_renameat2 = -100, 2, 316
sub, lnk = os.path.join(att, 'sub'), os.path.join(att, 'lnk')
rounds = swaps = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    # After a swap that landed, the folder sockvisor watches is at lnk: swapped back, its move is
    # what makes sockvisor look at the next rename of sub.
    if os.path.isdir(lnk) and not os.path.islink(lnk):
        if os.path.islink(sub):
            libc.syscall(SYS_renameat2, AT_FDCWD, sub.encode(), AT_FDCWD, lnk.encode(), RENAME_EXCHANGE)
        else:
            os.rename(lnk, os.path.join(att, 'lnk%d' % rounds))
    try:
        os.symlink(target, lnk)
    except FileExistsError:
        pass
    try:
        os.rename(sub, os.path.join(att, 'old%d' % rounds))
    except FileNotFoundError:
        pass
    rounds += 1
    spin_end = time.monotonic() + 0.05
    while time.monotonic() < spin_end:
        if libc.syscall(SYS_renameat2, AT_FDCWD, sub.encode(), AT_FDCWD, lnk.encode(), RENAME_EXCHANGE) == 0:
            swaps += 1
            break
print(rounds, swaps)
`;

let base: string;
let mallory: TestUser;
before(async () => {
  base = await makeTempDir('sockvisor-race-');
  mallory = createTestUser('svr');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(async () => {
  removeTestUser(mallory);
  await cleanupTempDirs();
});

const healed = (action: string) => (r: LogRecord) => r.event === 'socket.healed' && r.action === action;

function race(att: string, target: string, seconds: number): Promise<{ rounds: number; swaps: number }> {
  const asMallory = ['--reuid', String(mallory.uid), '--regid', String(mallory.gid), '--clear-groups'];
  const argv = [...asMallory, '/usr/bin/python3', '-c', RACER, att, target, String(seconds)];
  const racer = spawn('setpriv', argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  racer.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  return new Promise((resolve, reject) =>
    racer.on('exit', (code) => {
      const [rounds, swaps] = out.trim().split(' ').map(Number);
      if (code !== 0 || !Number.isFinite(rounds)) reject(new Error(`the racer failed (exit ${code}): ${out}`));
      else resolve({ rounds: rounds!, swaps: swaps! });
    }),
  );
}

test('a symlink swapped in for the folder made again: a root 0600 file keeps its mode and owner, sockvisor keeps healing', async (t) => {
  const att = join(base, 'att');
  mkdirSync(att);
  chownSync(att, mallory.uid, mallory.gid);
  const target = join(base, 'secret');
  writeFileSync(target, 'root only\n', { mode: 0o600 });
  const path = join(att, 'sub', 'app.sock');
  const sv = startSockvisor(['-s', path, '--socket-owner', 'root:www-data', '--user', mallory.name, '--', UWSGI, ...uwsgiArgs()]);
  const pid = await childPid(sv);
  await sv.waitFor((r) => r.event === 'child.ready' && r.pid === pid, 15000, 'uWSGI to say READY=1');
  await sv.waitFor((r) => r.event === 'socket.watched');
  const fdsBefore = openFds(sv.pid).size;

  const { rounds, swaps } = await race(att, target, 8);
  const st = statSync(target);
  // Repairs after the first within 5 s are summed up in one line (count) per 5 s: the lines' counts are
  // summed (those of the last seconds, not yet summed up, are not in it: at least that many).
  const made = sv.records.filter(healed('folder-made')).reduce((n, r) => n + (r.count as number), 0);
  const mode = (st.mode & 0o7777).toString(8);
  t.diagnostic(`${rounds} rounds, ${swaps} swaps landed, at least ${made} folders made again; target now ${mode} uid ${st.uid}`);
  const refusals = new Set(sv.records.filter((r) => r.level >= 50).map((r) => r.msg.replaceAll(base, '')));
  t.diagnostic(`errors logged: ${[...refusals].join(' | ')}`);
  // A problem that clears and comes back hundreds of times (the symlink swapped in and out) is
  // said once, then summed up once per 5 s: the attacker cannot fill the log with it.
  const errorLines = sv.records.filter((r) => r.level >= 50).length;
  t.diagnostic(`${errorLines} error lines in the log`);
  assert.ok(errorLines <= 12, `${errorLines} error lines logged during an 8 s race`);
  assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o600, 0, 0], 'the root-owned 0600 file was changed through the symlink');
  // The attack landed: the folder was made again and swapped for the symlink many times.
  assert.ok(made >= 10 && swaps >= 10, `${made} folders made again and ${swaps} swaps in ${rounds} rounds: the race did not run`);
  assert.equal(sv.proc.exitCode, null, 'sockvisor ended');

  // The race over: whatever the racer left at the folder's name is moved away by root, and a change
  // to the socket's names in every folder of the race reaches the one sockvisor watches now (if
  // its watch was not lost), so it looks again: the socket must come back at its path.
  for (const name of ['sub', 'lnk']) {
    if (lstatSync(join(att, name), { throwIfNoEntry: false })) renameSync(join(att, name), join(att, `${name}.end`));
  }
  for (const entry of readdirSync(att, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const names = ['app.sock', '.app.sock.sockvisor'].map((name) => join(att, entry.name, name));
    const present = names.filter((name) => lstatSync(name, { throwIfNoEntry: false }));
    for (const name of present) utimesSync(name, new Date(), new Date());
    if (present.length === 0) {
      writeFileSync(names[0]!, '');
      unlinkSync(names[0]!);
    }
  }
  const settled = await waitUntil(() => lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true, 5000);
  assert.ok(settled, 'the socket is not back at its path after the race');
  assert.equal(statSync(join(att, 'sub')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(att, 'sub')).uid, 0);
  // No descriptor left behind by hundreds of repairs (folder descriptors, inotify instances).
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(openFds(sv.pid).size <= fdsBefore, `sockvisor had ${fdsBefore} descriptors before the race and ${openFds(sv.pid).size} after`);
  assert.equal((await sv.stop()).code, 0);
});

const layoutTitle =
  'a socket folder that was a symlink at start is followed as then; pointed elsewhere later, it is refused and nothing is put there';
test(layoutTitle, async (t) => {
  const real = join(base, 'layout-real');
  const link = join(base, 'layout');
  mkdirSync(real);
  symlinkSync('layout-real', link);
  const path = join(link, 'app.sock');
  const sv = startSockvisor(['-s', path, '--ready-after', '0.1', '--', 'sleep', '1000']);
  await sv.waitFor((r) => r.event === 'socket.watched');
  const held = lstatSync(path).ino;
  unlinkSync(path);
  await sv.waitFor(healed('relinked'), 2000, "the socket to be linked back through the layout's symlink");
  assert.equal(lstatSync(join(real, 'app.sock')).ino, held);

  // The link pointed at another folder (someone who may write its folder): not followed.
  const victim = join(base, 'victim');
  mkdirSync(victim, { mode: 0o700 });
  symlinkSync('victim', `${link}.new`);
  renameSync(`${link}.new`, link);
  unlinkSync(join(real, 'app.sock')); // a change in the folder watched: sockvisor looks
  const refused = await sv.waitFor((r) => r.event === 'socket.heal-refused', 2000, 'a refusal to follow the new link');
  assert.match(
    refused.msg,
    /is a symbolic link that was not there when sockvisor started \(or now leads elsewhere\): sockvisor does not follow it/,
  );
  assert.match(refused.msg, /sockvisor puts its socket back \(it looks again every 2 s at most\)$/);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(readdirSync(victim), []);
  assert.equal(statSync(victim).mode & 0o7777, 0o700);

  // Pointed back as at start: nothing in the watched folder changes (the link is in the folder above),
  // so the timed re-checks find it, 2 s apart at most: back by itself, with no restart (margin for a loaded machine).
  symlinkSync('layout-real', `${link}.new`);
  renameSync(`${link}.new`, link);
  const restoredAt = Date.now();
  const back = await waitUntil(() => lstatSync(path, { throwIfNoEntry: false })?.ino === held, 5000);
  assert.ok(back, 'the same socket was not linked back within 5 s once the link was as it was');
  t.diagnostic(`the socket was linked back ${Date.now() - restoredAt} ms after the link was pointed back`);
  assert.deepEqual(readdirSync(victim), []);
  assert.equal((await sv.stop()).code, 0);
  assert.deepEqual(readdirSync(real), []);
});
