// A path walked component by component as the kernel resolves it (path_resolution(7)): each
// folder searched, each symbolic link met on the way (with its owner) and the walk going on at its
// target. Both who may reach a socket (access.ts: search on every folder the kernel really
// searches, not the ones the path merely names) and who may redirect it (path-trust.ts) read this.
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readAclOrNull } from './acl.js';
import { groupNameOf, userNameOf } from './identity.js';
import type { FileOwnership } from './access.js';

/** Linux gives up after 40 symbolic links in one lookup (MAXSYMLINKS): ELOOP. */
export const MAX_SYMLINKS = 40;

export type WalkStep =
  /** a folder the kernel searches; via: the symbolic link whose target led to it */
  | { kind: 'folder'; path: string; ownership: FileOwnership; via?: string }
  /** a symbolic link the kernel follows, from the folder that holds it */
  | { kind: 'link'; path: string; target: string; ownership: FileOwnership };

export interface PathWalk {
  /** in the kernel's order, from / */
  steps: WalkStep[];
  /** the first folder that does not exist (sockvisor makes it, and those below it), or null */
  missing: string | null;
  /** why the walk stopped early: ELOOP, ENOTDIR (a file on the way), EACCES (not ours to look at) */
  error?: { path: string; code: string };
}

/** stat-like facts of one entry, read without following it. */
function ownershipOf(path: string, st: { uid: number; gid: number; mode: number }, acl: boolean): FileOwnership {
  return {
    uid: st.uid,
    gid: st.gid,
    mode: st.mode & 0o7777,
    acl: acl ? readAclOrNull(path) : null,
    owner: userNameOf(st.uid),
    group: groupNameOf(st.gid),
  };
}

/** The components still to look up: relative names, in order. */
function componentsOf(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Walks dir (absolute) as open() would: every folder from / on, and every symbolic link with the
 * walk going on at its target (an absolute target from / again). Stops at the first missing
 * component (what sockvisor will create), or at an error the kernel would give too.
 */
export function walkPath(dir: string): PathWalk {
  const steps: WalkStep[] = [];
  let current = '/';
  let via: string | undefined;
  const folder = (path: string): void => {
    const st = lstatSync(path);
    steps.push({ kind: 'folder', path, ownership: ownershipOf(path, st, true), ...(via ? { via } : {}) });
  };
  try {
    folder('/');
  } catch (error) {
    return { steps, missing: null, error: { path: '/', code: (error as NodeJS.ErrnoException).code ?? 'EIO' } };
  }
  const pending = componentsOf(dir);
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      // The walk holds real folders only, so '..' is the real parent, as the kernel takes it.
      current = dirname(current);
      continue;
    }
    const path = join(current, name);
    let st;
    try {
      st = lstatSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'ENOENT') return { steps, missing: path };
      return { steps, missing: null, error: { path, code } };
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return { steps, missing: null, error: { path, code: 'ELOOP' } };
      const target = readlinkSync(path);
      steps.push({ kind: 'link', path, target, ownership: ownershipOf(path, st, false) });
      // The folders reached through the link are shown with it: '/root/y' (through '/tmp/lk').
      via = path;
      if (target.startsWith('/')) {
        current = '/';
        steps.push({ ...(steps[0] as WalkStep & { kind: 'folder' }), via });
      }
      pending.unshift(...componentsOf(target));
      continue;
    }
    if (!st.isDirectory()) return { steps, missing: null, error: { path, code: 'ENOTDIR' } };
    folder(path);
    current = path;
  }
  return { steps, missing: null };
}

/** The folder steps only: what the kernel searches (needs x on), outermost first. */
export function searchedFolders(walk: PathWalk): (WalkStep & { kind: 'folder' })[] {
  return walk.steps.filter((s): s is WalkStep & { kind: 'folder' } => s.kind === 'folder');
}
