// Turning user and group names (or numbers) into ids, once, before anything is created.
import { readFileSync } from 'node:fs';
import { parseNginxConfig, userDirective } from '../nginx/config.js';
import { UsageError } from '../errors.js';
import { groupList, lookupGroup, lookupUser, type GroupEntry, type UserEntry } from '../native.js';

/** A user as the kernel will check it: uid, primary gid and supplementary groups. */
export interface Identity {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

const NUMERIC = /^\d+$/;

/** Resolves a user name or uid; unknown users are a usage error naming the option. */
export function resolveUser(value: string, option: string): UserEntry {
  const user = NUMERIC.test(value) ? lookupUser(Number(value)) : lookupUser(value);
  if (user) return user;
  if (NUMERIC.test(value)) {
    // A bare uid with no passwd entry is still a valid owner (like chown 1234).
    return { name: value, uid: Number(value), gid: Number(value), home: '/', shell: '' };
  }
  throw new UsageError(
    `The user '${value}' given to ${option} does not exist on this machine: check the name with 'getent passwd ${value}', or create the user.`,
  );
}

/** Resolves a group name or gid; unknown groups are a usage error naming the option. */
export function resolveGroup(value: string, option: string): GroupEntry {
  const group = NUMERIC.test(value) ? lookupGroup(Number(value)) : lookupGroup(value);
  if (group) return group;
  if (NUMERIC.test(value)) return { name: value, gid: Number(value), members: [] };
  throw new UsageError(
    `The group '${value}' given to ${option} does not exist on this machine: check the name with 'getent group ${value}', or create the group.`,
  );
}

/** The full identity of a user: what a login (initgroups) would give it. */
export function identityOf(user: UserEntry, gid = user.gid): Identity {
  const groups = lookupUser(user.uid) ? groupList(user.name, gid) : [gid];
  return { name: user.name, uid: user.uid, gid, groups, home: user.home };
}

/** A uid's user name for messages, the number itself when it has none. */
export function userNameOf(uid: number): string {
  return lookupUser(uid)?.name ?? String(uid);
}

/** A gid's group name for messages, the number itself when it has none. */
export function groupNameOf(gid: number): string {
  return lookupGroup(gid)?.name ?? String(gid);
}

/** The identity sockvisor itself runs with. */
export function currentIdentity(): Identity {
  const uid = process.geteuid!();
  const gid = process.getegid!();
  const user = lookupUser(uid);
  return { name: user?.name ?? String(uid), uid, gid, groups: process.getgroups!(), home: user?.home ?? '/' };
}

/** Splits USER[:GROUP] (also USER.GROUP is not accepted: dots are legal in names). */
export function splitOwner(value: string): { user: string; group?: string } {
  const colon = value.indexOf(':');
  if (colon < 0) return { user: value };
  return { user: value.slice(0, colon), group: value.slice(colon + 1) };
}

/** The user nginx runs as and its group (nginx: `user USER [GROUP]`, the group named like USER when not given). */
export interface NginxUser {
  user: UserEntry;
  group: GroupEntry;
  /** no nginx configuration was read here: a usual name that exists (in a container, nginx may be elsewhere) */
  guessed?: boolean;
}

/** Resolves nginx's `user` directive the way nginx does: GROUP defaults to the group named USER, else USER's own. */
export function resolveNginxUser(name: string, groupName?: string): NginxUser | null {
  const user = lookupUser(name);
  if (!user) return null;
  const group = lookupGroup(groupName ?? name) ?? lookupGroup(user.gid);
  return group ? { user, group } : null;
}

/**
 * The user nginx's workers run as: the `user` directive of /etc/nginx/nginx.conf, else the first
 * of www-data, nginx, http that exists (Debian, RHEL, Arch). null when none is found.
 */
export function findNginxUser(confPath = '/etc/nginx/nginx.conf'): NginxUser | null {
  let configured: { user: string; group?: string } | null = null;
  try {
    configured = userDirective([{ path: confPath, directives: parseNginxConfig(readFileSync(confPath, 'utf8'), confPath) }]);
  } catch {
    // no nginx installed here, or unreadable: fall back to the usual names
  }
  if (configured) return resolveNginxUser(configured.user, configured.group);
  for (const name of ['www-data', 'nginx', 'http']) {
    const found = resolveNginxUser(name);
    if (found) return { ...found, guessed: true };
  }
  return null;
}

/** nginx's workers as the kernel sees them: nginx calls initgroups(USER, GROUP's gid). */
export function nginxIdentity(nginx: NginxUser): Identity {
  return identityOf(nginx.user, nginx.group.gid);
}
