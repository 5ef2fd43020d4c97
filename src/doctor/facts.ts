// The facts doctor judges, gathered by small readers: what is at the path, every folder above it,
// whether a server answers, and (as root) what the kernel says when USER itself connects.
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { connectAs, probeUnixSocket } from '../native.js';
import { readFolders, readOwnership, type FileOwnership, type FolderFacts } from '../socket/access.js';
import type { Identity } from '../socket/identity.js';
import { findNearbySockets, type NearbySocket } from './nearby.js';
import { checkPathTrust, systemAccounts, trustedUsers, type TrustProblem } from '../socket/path-trust.js';

export type EntryKind = 'socket' | 'file' | 'directory' | 'other';

export type PathEntry =
  { kind: 'missing'; danglingLink?: string } | { kind: 'unreadable'; code: string } | { kind: EntryKind; ownership: FileOwnership };

export interface SocketFacts {
  path: string;
  entry: PathEntry;
  /** outermost first */
  folders: FolderFacts[];
  /** connect() as doctor itself: null when it connected, else the errno code; undefined when not tried */
  probe?: string | null;
  /** connect() with USER's credentials (doctor as root); undefined when not tried */
  probeAs?: string | null;
  /** for a missing path: listening sockets of sockvisor or uWSGI that look like the intended one */
  nearby?: NearbySocket[];
  /** what run would refuse or warn about on this path (socket/path-trust.ts); undefined when not judged */
  trust?: TrustProblem[];
}

function readEntry(path: string): PathEntry {
  let kind: EntryKind;
  try {
    const st = statSync(path); // connect() follows symlinks, so does this
    kind = st.isSocket() ? 'socket' : st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    if (code !== 'ENOENT') return { kind: 'unreadable', code };
    try {
      if (lstatSync(path).isSymbolicLink()) return { kind: 'missing', danglingLink: readlinkSync(path) };
    } catch {
      // nothing at all
    }
    return { kind: 'missing' };
  }
  return { kind, ownership: readOwnership(path) };
}

/**
 * The path's trust as `run` judges it, with the users doctor knows to be trusted: root, doctor's own
 * user (usually sockvisor's), the user checked as (nginx's), and the socket's owner.
 */
function readTrust(path: string, who: Identity, entry: PathEntry): TrustProblem[] {
  const euid = process.geteuid!();
  const trusted = trustedUsers([
    { uid: euid, why: "doctor's user" },
    { uid: who.uid, why: 'the user checked as' },
    { uid: 'ownership' in entry ? entry.ownership.uid : undefined, why: "the socket's owner" },
  ]);
  return checkPathTrust(path, { trusted, accounts: systemAccounts(), asRoot: euid === 0 });
}

/** Everything doctor needs to judge one socket path for who; `confirm` (root only) connects as who too. */
export function gatherSocketFacts(path: string, who: Identity, confirm: boolean): SocketFacts {
  const entry = readEntry(path);
  const facts: SocketFacts = { path, entry, folders: readFolders(path), trust: readTrust(path, who, entry) };
  if (facts.entry.kind === 'missing') facts.nearby = findNearbySockets(path);
  if (facts.entry.kind !== 'socket') return facts;
  facts.probe = probeUnixSocket(path);
  if (confirm) {
    try {
      facts.probeAs = connectAs({ path, uid: who.uid, gid: who.gid, groups: who.groups });
    } catch {
      // Taking the credentials failed (not root after all?): no confirmation, not a verdict.
    }
  }
  return facts;
}
