// doctor's verdicts: pure functions of the facts (facts.ts), one check per line, each failure
// with its fix. The permission verdicts are the very functions `run` warns with (socket/access.ts).
import {
  describeAccess,
  describeOwnership,
  describeVia,
  folderFixes,
  folderVerdict,
  shellQuote,
  socketFixes,
  socketVerdict,
  type Fix,
} from '../socket/access.js';
import type { Identity } from '../socket/identity.js';
import type { ConfigPlace } from '../nginx/config.js';
import type { SocketFacts } from './facts.js';

export type CheckId = 'exists' | 'socket' | 'listening' | 'folders' | 'writable' | 'connect-as' | 'trust';
/** skip: not applicable after an earlier failure; unknown: doctor could not tell (not root?) */
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'unknown';

export interface Check {
  id: CheckId;
  status: CheckStatus;
  /** what is checked, e.g. "www-data can search every folder above it" */
  title: string;
  /** what was found */
  detail?: string;
  fixes: Fix[];
}

/** Where nginx's configuration names a socket path. */
export interface Reference extends ConfigPlace {
  directive: string;
  /** for an upstream's server line: the upstream, and the *_pass directives that use it */
  upstream?: string;
  usedBy?: (ConfigPlace & { directive: string })[];
}

export interface CheckContext {
  who: Identity;
  /** the group to suggest for --socket-group (nginx's group) */
  groupName: string;
  /** where nginx names this path, when doctor read nginx's configuration */
  references: Reference[];
}

/** The line nginx writes to error.log for a failed connect(): `(13: Permission denied)`. */
export interface NginxError {
  errno: number;
  message: string;
}

export const NGINX_ERRORS: Record<string, NginxError> = {
  ENOENT: { errno: 2, message: 'No such file or directory' },
  EACCES: { errno: 13, message: 'Permission denied' },
  ECONNREFUSED: { errno: 111, message: 'Connection refused' },
  EAGAIN: { errno: 11, message: 'Resource temporarily unavailable' },
};

/** `FILE:LINE` */
export function formatPlace(place: ConfigPlace): string {
  return `${place.file}:${place.line}`;
}

const START_SERVER = (path: string): Fix => ({
  text: `start the server on it behind sockvisor, which keeps the socket across restarts: sockvisor -s ${shellQuote(path)} -- COMMAND`,
});

function existsCheck(facts: SocketFacts, ctx: CheckContext): Check {
  const title = 'the path exists';
  const { entry, path } = facts;
  if (entry.kind === 'unreadable') {
    return { id: 'exists', status: 'unknown', title, detail: `doctor cannot examine it (${entry.code}): run doctor as root`, fixes: [] };
  }
  if (entry.kind !== 'missing') return { id: 'exists', status: 'pass', title, fixes: [] };
  const missingFolder = facts.folders.find((f) => !f.ownership && !f.code);
  let detail = entry.danglingLink ? `it is a symbolic link to '${entry.danglingLink}', which does not exist` : 'nothing is there';
  if (missingFolder) detail += `; its folder '${missingFolder.path}' does not exist either`;
  const fixes: Fix[] = [];
  for (const near of facts.nearby ?? []) {
    const holder = near.holder ? `${near.holder.name} pid ${near.holder.pid}` : 'a process doctor cannot see';
    const where = ctx.references.length > 0 ? ` at ${ctx.references.map(formatPlace).join(', ')}` : '';
    fixes.push({
      text: `did you mean '${near.path}' (${near.reason}, listening, held by ${holder})? then point nginx at unix:${near.path}${where}`,
    });
  }
  const start = START_SERVER(path);
  fixes.push(fixes.length > 0 ? { ...start, text: `or ${start.text}` } : start);
  return { id: 'exists', status: 'fail', title, detail, fixes };
}

function socketCheck(facts: SocketFacts): Check {
  const title = 'it is a socket';
  const { entry, path } = facts;
  if (entry.kind === 'missing' || entry.kind === 'unreadable') return { id: 'socket', status: 'skip', title, fixes: [] };
  if (entry.kind === 'socket') return { id: 'socket', status: 'pass', title, fixes: [] };
  const what = entry.kind === 'file' ? 'a regular file' : entry.kind === 'directory' ? 'a directory' : 'not a socket';
  return {
    id: 'socket',
    status: 'fail',
    title,
    detail: `it is ${what}, left behind or made by mistake: connect() to it is refused`,
    fixes: [
      {
        text: 'move it away (sockvisor never removes what is not a socket)',
        command: `mv ${shellQuote(path)} ${shellQuote(`${path}.moved`)}`,
      },
      START_SERVER(path),
    ],
  };
}

function listeningCheck(facts: SocketFacts): Check {
  const title = 'a server is listening';
  const { probe, path } = facts;
  if (facts.entry.kind !== 'socket' || probe === undefined) return { id: 'listening', status: 'skip', title, fixes: [] };
  if (probe === null) return { id: 'listening', status: 'pass', title, fixes: [] };
  if (probe === 'ECONNREFUSED') {
    return {
      id: 'listening',
      status: 'fail',
      title,
      detail:
        'connect() is refused (ECONNREFUSED): a stale socket file, nobody listens on it (the server stopped or died, or binds another path)',
      fixes: [{ text: `${START_SERVER(path).text} (a stale socket is replaced)` }],
    };
  }
  if (probe === 'EAGAIN') {
    return {
      id: 'listening',
      status: 'fail',
      title,
      detail: 'connect() would wait (EAGAIN): the listen backlog is full, the server accepts too slowly',
      fixes: [{ text: 'give the server more workers (uWSGI --processes), or a longer queue: sockvisor --socket-backlog N' }],
    };
  }
  if (probe === 'EACCES') {
    return {
      id: 'listening',
      status: 'unknown',
      title,
      detail: 'doctor itself may not connect (EACCES), so it cannot tell: run doctor as root',
      fixes: [],
    };
  }
  return { id: 'listening', status: 'fail', title, detail: `connect() fails with ${probe}`, fixes: [] };
}

function foldersCheck(facts: SocketFacts, ctx: CheckContext): Check {
  const title = `${ctx.who.name} can search every folder above it`;
  const verdict = folderVerdict(ctx.who, facts.folders);
  if (verdict.ok) return { id: 'folders', status: 'pass', title, fixes: [] };
  if (verdict.reason === 'unknown') {
    return {
      id: 'folders',
      status: 'unknown',
      title,
      detail: `doctor cannot examine '${verdict.directory}' (${verdict.code}): run doctor as root`,
      fixes: [],
    };
  }
  if (verdict.reason !== 'directory') return { id: 'folders', status: 'pass', title, fixes: [] };
  return {
    id: 'folders',
    status: 'fail',
    title,
    detail: `'${verdict.directory}'${describeVia(verdict.via)} (${describeOwnership(verdict.ownership)}) blocks it: no search (x) ${describeAccess(verdict.access, verdict.ownership)}`,
    fixes: folderFixes(ctx.who, verdict.directory),
  };
}

function writableCheck(facts: SocketFacts, ctx: CheckContext): Check {
  const title = `${ctx.who.name} may write the socket`;
  const { entry } = facts;
  if (entry.kind !== 'socket') return { id: 'writable', status: 'skip', title, fixes: [] };
  const verdict = socketVerdict(ctx.who, entry.ownership);
  const access = verdict.ok ? verdict.access! : verdict.reason === 'socket' ? verdict.access : null;
  const detail = `${describeOwnership(entry.ownership)}, ${access ? describeAccess(access, entry.ownership) : ''}`;
  if (verdict.ok) return { id: 'writable', status: 'pass', title, detail, fixes: [] };
  return { id: 'writable', status: 'fail', title, detail, fixes: socketFixes(ctx.who, facts.path, ctx.groupName) };
}

function connectAsCheck(facts: SocketFacts, ctx: CheckContext, permissionChecks: Check[]): Check | null {
  const { probeAs } = facts;
  if (probeAs === undefined) return null;
  const title = `connect() as ${ctx.who.name}`;
  const permitted = probeAs === null || probeAs === 'ECONNREFUSED' || probeAs === 'EAGAIN';
  const bitsSay = permissionChecks.every((c) => c.status !== 'fail');
  const outcome =
    probeAs === null ? 'it connected' : permitted ? `the kernel lets it in (nobody accepted: ${probeAs})` : `refused with ${probeAs}`;
  if (permitted === bitsSay) {
    return { id: 'connect-as', status: permitted ? 'pass' : 'fail', title, detail: `${outcome}, as the checks above say`, fixes: [] };
  }
  if (permitted) {
    return {
      id: 'connect-as',
      status: 'pass',
      title,
      detail: `${outcome}, although the permission bits above say no: trust this one`,
      fixes: [],
    };
  }
  return {
    id: 'connect-as',
    status: 'fail',
    title,
    detail: `${outcome}, although every permission bit lets it in`,
    fixes: [
      {
        text: 'something other than file permissions refuses: look for an AppArmor or SELinux denial (journalctl -k, /var/log/audit/audit.log)',
      },
    ],
  };
}

/**
 * Whether anyone untrusted could redirect the path (a folder they may write, a link they own): what
 * `run` refuses fails here; what it only warns about (a sticky folder holding the socket, sockvisor
 * not root) passes with the warning as its detail.
 */
function trustCheck(facts: SocketFacts): Check | null {
  if (!facts.trust) return null;
  const title = 'no untrusted user can redirect the path';
  const refused = facts.trust.filter((p) => p.severity === 'refuse');
  if (refused.length > 0) return { id: 'trust', status: 'fail', title, detail: refused.map((p) => p.sentence).join(' '), fixes: [] };
  const warned = facts.trust.map((p) => p.sentence).join(' ');
  return { id: 'trust', status: 'pass', title, ...(warned ? { detail: `but: ${warned}` } : {}), fixes: [] };
}

/** Every check for one socket path, in the order a reader follows them. */
export function judgeSocket(facts: SocketFacts, ctx: CheckContext): Check[] {
  const checks = [existsCheck(facts, ctx), socketCheck(facts), listeningCheck(facts)];
  const permissions = [foldersCheck(facts, ctx), writableCheck(facts, ctx)];
  const confirm = connectAsCheck(facts, ctx, permissions);
  const trust = trustCheck(facts);
  return [...checks, ...permissions, ...(confirm ? [confirm] : []), ...(trust ? [trust] : [])];
}

/**
 * What nginx (as ctx.who) would log for this path, in the kernel's order: a folder it cannot
 * search (13), a missing path (2), a file it may not write (13), not a socket or nobody listening
 * (111), a full backlog (11). null when it would connect.
 */
export function expectedNginxError(facts: SocketFacts, who: Identity): NginxError | null {
  // As root doctor asked the kernel itself: its answer wins over our reading of the bits.
  if (facts.probeAs !== undefined) return facts.probeAs === null ? null : (NGINX_ERRORS[facts.probeAs] ?? null);
  const folders = folderVerdict(who, facts.folders);
  if (!folders.ok && folders.reason === 'directory') return NGINX_ERRORS.EACCES!;
  const { entry } = facts;
  if (entry.kind === 'missing') return NGINX_ERRORS.ENOENT!;
  if (entry.kind === 'unreadable') return null;
  if (!socketVerdict(who, entry.ownership).ok) return NGINX_ERRORS.EACCES!;
  if (entry.kind !== 'socket') return NGINX_ERRORS.ECONNREFUSED!;
  if (facts.probe === 'ECONNREFUSED' || facts.probe === 'EAGAIN') return NGINX_ERRORS[facts.probe]!;
  return null;
}
