// Whether the path to a socket can be trusted, as OpenSSH's StrictModes trusts a key file: nobody
// but trusted users may change which file the path names. sockvisor usually runs as root; a user
// who may write a folder on the way can rename their own socket over ours (nginx then talks to
// them), and a user who owns a symbolic link on the way can point it elsewhere (sockvisor, as root,
// then creates and removes files where they chose). See docs/security.md.
//
// judgePathTrust() is pure (walk facts in, problems out); readers gather the facts once at start
// and again, cheaply, before the healer creates or links anything.
import { dirname } from 'node:path';
import { lookupGroup, lookupUser, usersWithPrimaryGroup } from '../native.js';
import { accessOf, describeOwnership, shellQuote, type FileOwnership } from './access.js';
import { identityOf, type Identity } from './identity.js';
import { walkPath, type PathWalk, type WalkStep } from './path-walk.js';

/** Who sockvisor trusts not to attack its own socket. */
export interface TrustedUsers {
  /** uid -> why it is trusted, for messages: root, sockvisor's user, the socket's owner, the child's user, nginx's user */
  uids: Map<number, string>;
}

/** The user database as the judgement needs it (a reader in production, a table in unit tests). */
export interface Accounts {
  /** the users of a group: its member list (group database) and the users whose primary group it is */
  membersOf(gid: number): Identity[];
  /** a user by uid, with its groups; null when no passwd entry names it */
  user(uid: number): Identity | null;
}

export interface TrustContext {
  trusted: TrustedUsers;
  accounts: Accounts;
  /** sockvisor runs as root: a sticky folder that holds the socket itself is refused, not only warned about */
  asRoot: boolean;
}

/** One thing wrong with the path; refuse: exit 2 at start (a warning with --insecure-path), warn: a warning only. */
export interface TrustProblem {
  severity: 'refuse' | 'warn';
  /** the folder or link at fault */
  path: string;
  sentence: string;
}

/** A user who may write a folder although not trusted, and how. */
export interface Writer {
  /** a user name, or 'every user' for the other bits */
  who: string;
  how: string;
}

/** Someone not in the list, for the other bits: no uid, no group, matches no ACL entry. */
const ANYONE: Identity = { name: 'anyone', uid: -1, gid: -1, groups: [], home: '/' };

/**
 * The untrusted users who may create, remove or rename entries in a folder: its owner whatever the
 * bits say (an owner may chmod at any time), anyone when other has w, and each member of the owning
 * group or of an ACL's named groups, and each ACL named user, whom accessOf() (the kernel's check,
 * masks included) gives w.
 */
export function untrustedWriters(folder: FileOwnership, context: Pick<TrustContext, 'trusted' | 'accounts'>): Writer[] {
  const { trusted, accounts } = context;
  const writers: Writer[] = [];
  if (!trusted.uids.has(folder.uid)) writers.push({ who: folder.owner ?? String(folder.uid), how: 'its owner' });
  if ((accessOf(ANYONE, folder).bits & 2) !== 0) writers.push({ who: 'every user', how: 'other has w' });
  // With an ACL the mode's group bits are its mask, without one the group's bits: w there or nobody in a group writes.
  const groupClassWrites = ((folder.mode >> 3) & 2) !== 0;
  const candidates = new Map<number, { identity: Identity; how: string }>();
  for (const entry of folder.acl ?? []) {
    if (entry.tag === 'user' && entry.id !== undefined && !trusted.uids.has(entry.id) && groupClassWrites) {
      const identity = accounts.user(entry.id) ?? { ...ANYONE, name: String(entry.id), uid: entry.id };
      candidates.set(entry.id, { identity, how: `the ACL entry user:${entry.name ?? entry.id}` });
    }
  }
  if (groupClassWrites) {
    const groups = new Map<number, string>([[folder.gid, folder.group ?? String(folder.gid)]]);
    for (const e of folder.acl ?? []) if (e.tag === 'group' && e.id !== undefined) groups.set(e.id, e.name ?? String(e.id));
    for (const [gid, name] of groups) {
      for (const identity of accounts.membersOf(gid)) {
        if (trusted.uids.has(identity.uid) || candidates.has(identity.uid)) continue;
        candidates.set(identity.uid, { identity, how: `a member of group ${name}` });
      }
    }
  }
  for (const { identity, how } of candidates.values()) {
    if (identity.uid === folder.uid) continue;
    if ((accessOf(identity, folder).bits & 2) !== 0) writers.push({ who: identity.name, how });
  }
  return writers;
}

/** "mallory (its owner), every user (other has w)" */
function describeWriters(writers: Writer[]): string {
  const shown = writers.slice(0, 3).map((w) => (w.who === 'every user' ? 'every user' : `${w.who} (${w.how})`));
  if (writers.length > 3) shown.push(`${writers.length - 3} more`);
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)!}` : shown.join('');
}

function isSticky(o: FileOwnership): boolean {
  return (o.mode & 0o1000) !== 0;
}

/** Ends each refusal: the documented way past it. */
export const ESCAPE = '(or start with --insecure-path, at your own risk)';

/** How to make a folder trusted: chown when its owner is not trusted, chmod for the rest, and its ACL's entries. */
function folderFix(folder: FolderStep, writers: Writer[]): string {
  const q = shellQuote(folder.path);
  const steps: string[] = [];
  if (writers.some((w) => w.how === 'its owner')) steps.push(`chown root ${q}`);
  if (writers.some((w) => w.how !== 'its owner')) steps.push(`chmod go-w ${q}`);
  // With an ACL, chmod g-w lowers the mask, which every named entry goes through; say where to look anyway.
  if (folder.ownership.acl?.some((e) => e.tag === 'user' || e.tag === 'group') && writers.some((w) => w.how !== 'its owner')) {
    steps.push(`check its ACL (getfacl ${q})`);
  }
  return steps.join(' and ');
}

type FolderStep = WalkStep & { kind: 'folder' };

const OWN_FOLDER = 'put the socket in a folder of its own, e.g. under /run';

/** A link someone untrusted owns: they may replace it (in a sticky or their own folder) and so choose where the path leads. */
function linkSentence(socketPath: string, step: WalkStep): string {
  const owner = step.ownership.owner ?? String(step.ownership.uid);
  return (
    `The symbolic link '${step.path}' (-> ${step.kind === 'link' ? step.target : '?'}) on the way to the socket '${socketPath}' ` +
    `is owned by ${owner}, who is not trusted and could point it elsewhere, so that sockvisor creates and removes files ` +
    `where they choose: give the socket's real path to --socket, or have root own the link ` +
    `(chown -h root ${shellQuote(step.path)}) ${ESCAPE}.`
  );
}

/** A folder in a sticky folder, owned by someone untrusted: the sticky bit lets its owner remove or replace it. */
function stickyEntrySentence(socketPath: string, step: WalkStep, holder: FolderStep): string {
  const owner = step.ownership.owner ?? String(step.ownership.uid);
  return (
    `The folder '${step.path}' on the way to the socket '${socketPath}' is owned by ${owner}, who is not trusted and may ` +
    `remove or replace it in the sticky folder '${holder.path}': have root own it (chown root ${shellQuote(step.path)}), ` +
    `or ${OWN_FOLDER} ${ESCAPE}.`
  );
}

/** A folder on the way that someone untrusted may write: they may rename the next entry and put their own there. */
function holderSentence(socketPath: string, step: WalkStep, holder: FolderStep, who: Writer[]): string {
  return (
    `The folder '${holder.path}' (${describeOwnership(holder.ownership)}) on the way to the socket '${socketPath}' can be ` +
    `written by ${describeWriters(who)}, who could rename '${step.path}' and so put a socket of their own in the way of ` +
    `nginx's requests: ${folderFix(holder, who)}, or ${OWN_FOLDER} ${ESCAPE}.`
  );
}

/** The folder that holds the socket (or the folders sockvisor makes), written by someone untrusted. */
function lastFolderSentence(socketPath: string, walk: PathWalk, last: FolderStep, who: Writer[], sticky: boolean, asRoot: boolean): string {
  const holds = walk.missing ? `the folder '${walk.missing}' sockvisor makes for the socket '${socketPath}'` : `the socket '${socketPath}'`;
  const folder = `The folder '${last.path}' (${describeOwnership(last.ownership)})`;
  const start = `${folder}, which would hold ${holds}, can be written by ${describeWriters(who)}`;
  if (!sticky) {
    const fix = `${folderFix(last, who)}, or ${OWN_FOLDER} ${ESCAPE}`;
    return `${start}, who could rename a socket of their own over it and get nginx's requests: ${fix}.`;
  }
  const risk = walk.missing
    ? `anyone may make '${walk.missing}' first, and own it`
    : 'the sticky bit keeps others from renaming the socket, but once it is removed (a tmp cleaner, a mistaken rm) ' +
      "whoever binds the name first gets nginx's requests";
  return `${start}: ${risk}; put the socket in a folder of its own, e.g. /run/NAME/ or $XDG_RUNTIME_DIR/${asRoot ? ` ${ESCAPE}` : ''}.`;
}

/**
 * The problems of one walk to the folder of socketPath. Every entry on the way (folder or link) sits
 * in a folder that must not be writable by an untrusted user, unless that folder is sticky, owned by
 * a trusted user, and the entry is owned by a trusted user too (then only they may rename or remove
 * it: /tmp/mine/app.sock). A link must be owned by a trusted user. The last folder, which holds the
 * socket (or the folders sockvisor makes), is refused when untrusted users may write it; sticky, it
 * is refused as root and warned about otherwise (a tmp cleaner's rm hands the name to whoever binds
 * it first).
 */
export function judgePathTrust(socketPath: string, walk: PathWalk, context: TrustContext): TrustProblem[] {
  const problems: TrustProblem[] = [];
  const refuse = (path: string, sentence: string): void => void problems.push({ severity: 'refuse', path, sentence });
  const { trusted } = context;
  const folders = new Map<string, FolderStep>();
  for (const step of walk.steps) if (step.kind === 'folder') folders.set(step.path, step);
  if (walk.error?.code === 'ELOOP') {
    const at = walk.error.path;
    refuse(at, `The path to the socket '${socketPath}' meets more than 40 symbolic links at '${at}' (a loop?): give its real path.`);
  }
  const writersOf = new Map<string, Writer[]>();
  const writers = (folder: FolderStep): Writer[] => {
    let found = writersOf.get(folder.path);
    if (!found) writersOf.set(folder.path, (found = untrustedWriters(folder.ownership, context)));
    return found;
  };

  // Every entry looked up, in the folder that holds it ('/' is held by nobody).
  for (const step of walk.steps) {
    if (step.path === '/') continue;
    const entryTrusted = trusted.uids.has(step.ownership.uid);
    if (step.kind === 'link' && !entryTrusted) refuse(step.path, linkSentence(socketPath, step));
    const holder = folders.get(dirname(step.path));
    if (!holder) continue;
    const who = writers(holder);
    if (who.length === 0) continue;
    if (isSticky(holder.ownership) && trusted.uids.has(holder.ownership.uid)) {
      // A link owned by someone untrusted is refused above already, with the link's own fix.
      if (!entryTrusted && step.kind === 'folder') refuse(step.path, stickyEntrySentence(socketPath, step, holder));
      continue;
    }
    refuse(holder.path, holderSentence(socketPath, step, holder, who));
  }

  // The folder that holds the socket (or the first folder sockvisor makes).
  const lastPath = walk.error ? null : lastFolderPath(walk);
  const last = lastPath === null ? undefined : folders.get(lastPath);
  if (last && writers(last).length > 0) {
    const sticky = isSticky(last.ownership) && trusted.uids.has(last.ownership.uid);
    const sentence = lastFolderSentence(socketPath, walk, last, writers(last), sticky, context.asRoot);
    problems.push({ severity: sticky && !context.asRoot ? 'warn' : 'refuse', path: last.path, sentence });
  }
  return problems;
}

/** The last folder of a walk: the one that holds the socket, or the nearest existing one of the folders to make. */
function lastFolderPath(walk: PathWalk): string | null {
  for (let i = walk.steps.length - 1; i >= 0; i--) if (walk.steps[i]!.kind === 'folder') return walk.steps[i]!.path;
  return null;
}

/** The system's user database (NSS), each group read once: the healer's re-checks then cost no look-up. */
export function systemAccounts(): Accounts {
  const groups = new Map<number, Identity[]>();
  const users = new Map<number, Identity | null>();
  const user = (uid: number): Identity | null => {
    if (!users.has(uid)) {
      const entry = lookupUser(uid);
      users.set(uid, entry ? identityOf(entry) : null);
    }
    return users.get(uid)!;
  };
  return {
    user,
    membersOf(gid) {
      let found = groups.get(gid);
      if (found) return found;
      const names = new Set([...(lookupGroup(gid)?.members ?? []), ...usersWithPrimaryGroup(gid)]);
      found = [...names].flatMap((name) => {
        const entry = lookupUser(name);
        const identity = entry ? user(entry.uid) : null;
        return identity ? [identity] : [];
      });
      groups.set(gid, found);
      return found;
    },
  };
}

/** The trusted users of a run: root, sockvisor's own user, the socket's owner, the child's user, nginx's user. */
export function trustedUsers(people: { uid: number | undefined; why: string }[]): TrustedUsers {
  const uids = new Map<number, string>([[0, 'root']]);
  for (const { uid, why } of people) if (uid !== undefined && !uids.has(uid)) uids.set(uid, why);
  return { uids };
}

/** Walks to the folder of socketPath and judges it. */
export function checkPathTrust(socketPath: string, context: TrustContext): TrustProblem[] {
  return judgePathTrust(socketPath, walkPath(dirname(socketPath)), context);
}

/** What a run decided about one socket path at start, for the healer's re-check. */
interface Remembered {
  context: TrustContext;
  /** --insecure-path: the user accepted the risk, the healer acts as before */
  insecure: boolean;
}

// Keyed by the socket's spec: a socket made anew by the healer keeps its spec, and a spec that is
// gone takes its entry with it.
const remembered = new WeakMap<object, Remembered>();

/** Remembers how a run judges a socket's path, for pathTrustProblem(). */
export function rememberPathTrust(spec: { path: string }, context: TrustContext, insecure: boolean): void {
  remembered.set(spec, { context, insecure });
}

/**
 * For the healer, before it links or creates anything at a socket's path: the sentence that says
 * why it must not (someone untrusted may now write a folder on the way, or owns a link on it), or
 * null. A few lstat and getxattr calls; group members were read at start.
 */
export function pathTrustProblem(spec: { path: string }): string | null {
  const entry = remembered.get(spec);
  if (!entry || entry.insecure) return null;
  const refused = checkPathTrust(spec.path, entry.context).find((p) => p.severity === 'refuse');
  return refused ? `not repairing: ${refused.sentence}` : null;
}
