// The path-trust decision as a pure function: walks written as facts (modes, owners, ACLs, links),
// users and groups as a table, no root needed. The e2e file test/e2e/path-trust.test.ts runs the
// same layouts for real, with an attacker user.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileOwnership } from '../../src/socket/access.js';
import type { AclEntry } from '../../src/socket/acl.js';
import type { Identity } from '../../src/socket/identity.js';
import { judgePathTrust, trustedUsers, untrustedWriters, type Accounts, type TrustContext } from '../../src/socket/path-trust.js';
import type { PathWalk, WalkStep } from '../../src/socket/path-walk.js';

const ROOT = 0;
const APP = 1000;
const MALLORY = 1001;
const WWW = 33;
const EVE = 1002;

const people: Record<number, Identity> = {
  [ROOT]: { name: 'root', uid: ROOT, gid: 0, groups: [0], home: '/root' },
  [APP]: { name: 'app', uid: APP, gid: APP, groups: [APP], home: '/home/app' },
  [MALLORY]: { name: 'mallory', uid: MALLORY, gid: MALLORY, groups: [MALLORY, 500], home: '/home/mallory' },
  [WWW]: { name: 'www-data', uid: WWW, gid: WWW, groups: [WWW], home: '/var/www' },
  [EVE]: { name: 'eve', uid: EVE, gid: 600, groups: [600], home: '/home/eve' },
};

/** Group 500 "staff" lists mallory; group 600 is eve's primary group only (no member list); 700 holds app alone. */
const accounts: Accounts = {
  membersOf: (gid) => Object.values(people).filter((p) => p.gid === gid || p.groups.includes(gid) || (gid === 700 && p.uid === APP)),
  user: (uid) => people[uid] ?? null,
};

function own(uid: number, gid: number, mode: number, acl?: AclEntry[]): FileOwnership {
  return { uid, gid, mode, acl: acl ?? null, owner: people[uid]?.name ?? String(uid), group: String(gid) };
}

function folder(path: string, o: FileOwnership, via?: string): WalkStep {
  return { kind: 'folder', path, ownership: o, ...(via ? { via } : {}) };
}

function link(path: string, target: string, uid: number): WalkStep {
  return { kind: 'link', path, target, ownership: own(uid, uid, 0o777) };
}

const rootDir = (path: string, mode = 0o755): WalkStep => folder(path, own(ROOT, 0, mode));

/** sockvisor as root, socket owned by root, child as app, nginx as www-data. */
function context(asRoot = true, extra: number[] = []): TrustContext {
  const trusted = trustedUsers([
    { uid: asRoot ? ROOT : APP, why: "sockvisor's user" },
    { uid: APP, why: "the child's user" },
    { uid: WWW, why: "nginx's user" },
    ...extra.map((uid) => ({ uid, why: 'test' })),
  ]);
  return { trusted, accounts, asRoot };
}

function walk(...steps: WalkStep[]): PathWalk {
  return { steps, missing: null };
}

function verdicts(path: string, w: PathWalk, ctx = context()): string[] {
  return judgePathTrust(path, w, ctx).map((p) => `${p.severity} ${p.path}`);
}

test('/run/app owned by root, 0755: nothing to say', () => {
  assert.deepEqual(verdicts('/run/app/app.sock', walk(rootDir('/'), rootDir('/run'), rootDir('/run/app'))), []);
});

test("Debian's /run/uwsgi owned by www-data (nginx's user), and a folder of the child's user: trusted", () => {
  const debian = walk(rootDir('/'), rootDir('/run'), folder('/run/uwsgi', own(WWW, WWW, 0o755)));
  assert.deepEqual(verdicts('/run/uwsgi/app.sock', debian), []);
  const child = walk(rootDir('/'), rootDir('/srv'), folder('/srv/app', own(APP, APP, 0o700)));
  assert.deepEqual(verdicts('/srv/app/app.sock', child), []);
});

test("finding 2(a): the socket's folder owned by mallory, 0777: refused, naming her and the fix", () => {
  const w = walk(rootDir('/'), rootDir('/srv'), folder('/srv/shared', own(MALLORY, MALLORY, 0o777)));
  const [problem, ...rest] = judgePathTrust('/srv/shared/app.sock', w, context());
  assert.equal(rest.length, 0);
  assert.equal(problem!.severity, 'refuse');
  const start = "The folder '/srv/shared' (0777 mallory:1001), which would hold the socket '/srv/shared/app.sock'";
  assert.ok(problem!.sentence.startsWith(`${start}, can be written by mallory (its owner) and every user`), problem!.sentence);
  assert.match(problem!.sentence, /chown root \/srv\/shared and chmod go-w \/srv\/shared/);
  assert.match(problem!.sentence, /--insecure-path/);
});

test('an untrusted owner writes whatever the bits say: she may chmod it (0555 mallory is refused)', () => {
  const w = walk(rootDir('/'), folder('/srv', own(MALLORY, MALLORY, 0o555)), rootDir('/srv/app'));
  assert.deepEqual(verdicts('/srv/app/app.sock', w), ['refuse /srv']);
});

test('group write: refused when the group has an untrusted member (member list or primary group), fine when all are trusted', () => {
  // staff (500) lists mallory as a member.
  const staff = walk(rootDir('/'), rootDir('/srv'), folder('/srv/a', own(ROOT, 500, 0o775)));
  assert.deepEqual(verdicts('/srv/a/app.sock', staff), ['refuse /srv/a']);
  // 600 is eve's primary group only: no member list names her.
  const eve = judgePathTrust('/srv/b/app.sock', walk(rootDir('/'), rootDir('/srv'), folder('/srv/b', own(ROOT, 600, 0o770))), context());
  assert.match(eve[0]!.sentence, /eve \(a member of group 600\)/);
  // 700 holds app alone (the child's user): trusted.
  assert.deepEqual(verdicts('/srv/c/app.sock', walk(rootDir('/'), rootDir('/srv'), folder('/srv/c', own(ROOT, 700, 0o775)))), []);
  // Group bits without w: members do not matter.
  assert.deepEqual(verdicts('/srv/d/app.sock', walk(rootDir('/'), rootDir('/srv'), folder('/srv/d', own(ROOT, 500, 0o755)))), []);
});

test('POSIX ACLs: a user: or group: entry with w counts, through the mask; a mask without w stops it', () => {
  const acl = (mask: number, entries: AclEntry[]): AclEntry[] => [
    { tag: 'user_obj', perm: 7 },
    ...entries,
    { tag: 'group_obj', perm: 5 },
    { tag: 'mask', perm: mask },
    { tag: 'other', perm: 5 },
  ];
  const user = [{ tag: 'user' as const, id: MALLORY, perm: 7, name: 'mallory' }];
  const withMask = (mask: number, entries: AclEntry[]): FileOwnership => own(ROOT, 0, 0o705 | (mask << 3), acl(mask, entries));
  const writers = untrustedWriters(withMask(7, user), context());
  assert.deepEqual(
    writers.map((w) => `${w.who}: ${w.how}`),
    ['mallory: the ACL entry user:mallory'],
  );
  assert.deepEqual(untrustedWriters(withMask(5, user), context()), [], 'the mask r-x leaves the entry no w');
  const group = [{ tag: 'group' as const, id: 500, perm: 7, name: 'staff' }];
  assert.deepEqual(
    untrustedWriters(withMask(7, group), context()).map((w) => w.who),
    ['mallory'],
  );
  // An entry for a trusted user (nginx's) is no threat.
  assert.deepEqual(untrustedWriters(withMask(7, [{ tag: 'user', id: WWW, perm: 7, name: 'www-data' }]), context()), []);
});

test('finding 2(b): the socket directly in a sticky world-writable folder: refused as root, a warning otherwise', () => {
  const w = walk(rootDir('/'), rootDir('/tmp', 0o1777));
  assert.deepEqual(verdicts('/tmp/app.sock', w, context(true)), ['refuse /tmp']);
  const [warning] = judgePathTrust('/tmp/app.sock', w, context(false));
  assert.equal(warning!.severity, 'warn');
  const fix =
    "whoever binds the name first gets nginx's requests; put the socket in a folder of its own, e.g. /run/NAME/ or " + '$XDG_RUNTIME_DIR/.';
  assert.ok(warning!.sentence.includes('sticky bit') && warning!.sentence.endsWith(fix), warning!.sentence);
});

test('the usual /tmp/mydir/app.sock: a sticky folder above is fine when the next folder is trusted; not when mallory owns it', () => {
  assert.deepEqual(verdicts('/tmp/mine/app.sock', walk(rootDir('/'), rootDir('/tmp', 0o1777), rootDir('/tmp/mine'))), []);
  const hers = walk(rootDir('/'), rootDir('/tmp', 0o1777), folder('/tmp/hers', own(MALLORY, MALLORY, 0o755)));
  const problems = verdicts('/tmp/hers/app.sock', hers);
  assert.deepEqual(problems, ['refuse /tmp/hers', 'refuse /tmp/hers'], 'she may replace it in /tmp, and she owns it');
  // A sticky folder owned by mallory does not protect against her: she is its owner.
  const herSticky = walk(rootDir('/'), folder('/srv', own(MALLORY, MALLORY, 0o1777)), rootDir('/srv/app'));
  assert.deepEqual(verdicts('/srv/app/app.sock', herSticky), ['refuse /srv']);
});

test('finding 2(c): a symbolic link on the way owned by mallory is refused, naming the link; one owned by root is followed', () => {
  const behind = [rootDir('/'), folder('/root', own(ROOT, 0, 0o700)), rootDir('/root/x')];
  const hers = walk(rootDir('/'), rootDir('/tmp', 0o1777), link('/tmp/link', '/root/x', MALLORY), ...behind);
  const problems = judgePathTrust('/tmp/link/app.sock', hers, context());
  assert.equal(problems[0]!.path, '/tmp/link');
  const start = "The symbolic link '/tmp/link' (-> /root/x) on the way to the socket '/tmp/link/app.sock' is owned by mallory";
  assert.ok(problems[0]!.sentence.startsWith(`${start}, who is not trusted`), problems[0]!.sentence);
  assert.deepEqual(
    problems.map((p) => p.severity),
    ['refuse'],
  );
  const roots = walk(rootDir('/'), rootDir('/tmp', 0o1777), link('/tmp/link', '/root/x', ROOT), ...behind);
  assert.deepEqual(verdicts('/tmp/link/app.sock', roots), []);
});

test("a link's target is judged too: a trusted link into mallory's folder is refused at her folder", () => {
  const hers = [rootDir('/'), rootDir('/home'), folder('/home/mallory', own(MALLORY, MALLORY, 0o755)), rootDir('/home/mallory/app')];
  const w = walk(rootDir('/'), rootDir('/srv'), link('/srv/app', '/home/mallory/app', ROOT), ...hers);
  assert.deepEqual(verdicts('/srv/app/app.sock', w), ['refuse /home/mallory']);
});

test('folders sockvisor will make: the nearest existing one is judged as the folder that holds them', () => {
  const missing: PathWalk = { steps: [rootDir('/'), rootDir('/tmp', 0o1777)], missing: '/tmp/new' };
  const [problem] = judgePathTrust('/tmp/new/app.sock', missing, context(true));
  assert.equal(problem!.severity, 'refuse');
  assert.match(problem!.sentence, /which would hold the folder '\/tmp\/new' sockvisor makes for the socket/);
  assert.deepEqual(verdicts('/run/new/app.sock', { steps: [rootDir('/'), rootDir('/run')], missing: '/run/new' }), []);
});

test('more than 40 links (a loop) is refused', () => {
  const loop: PathWalk = { steps: [rootDir('/')], missing: null, error: { path: '/a', code: 'ELOOP' } };
  const [problem] = judgePathTrust('/a/app.sock', loop, context());
  assert.equal(problem!.severity, 'refuse');
  assert.match(problem!.sentence, /more than 40 symbolic links/);
});

test('as an ordinary user: her own folders (euid), $XDG_RUNTIME_DIR-like 0700 ones, pass', () => {
  const xdg = walk(rootDir('/'), rootDir('/run'), rootDir('/run/user'), folder('/run/user/1000', own(APP, APP, 0o700)));
  assert.deepEqual(verdicts('/run/user/1000/app.sock', xdg, context(false)), []);
  // Someone else's user: not trusted when sockvisor runs as app.
  const other = walk(rootDir('/'), rootDir('/run'), rootDir('/run/user'), folder('/run/user/1002', own(EVE, 600, 0o700)));
  assert.deepEqual(verdicts('/run/user/1002/app.sock', other, context(false)), ['refuse /run/user/1002']);
});
