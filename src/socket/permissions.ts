// The owner, group and mode every socket file gets: from sockvisor's options, else from the
// uWSGI command line it replaces, else the defaults of the option table (docs/usage.md, 'Options').
import { UsageError } from '../errors.js';
import { optionNamed } from '../config/options.js';
import { formatAclEntry, modeOfAcl, socketAcl, type AclEntry } from './acl.js';
import { currentIdentity, findNginxUser, resolveGroup, resolveUser, splitOwner, type Identity, type NginxUser } from './identity.js';
import { formatMode, parseMode, parseUwsgiChmod } from './mode.js';

export interface SocketPermissions {
  /** the mode asked for: owner, owning group and other bits */
  mode: number;
  uid: number;
  gid: number;
  owner: string;
  group: string;
  /** users let in by an ACL entry each (--socket-allow) */
  allow: { uid: number; name: string }[];
  /** the access ACL set at creation (with allow), which makes the file's mode modeOfAcl(acl) */
  acl: AclEntry[] | null;
}

export interface PermissionOptions {
  socketMode?: string | undefined;
  socketOwner?: string | undefined;
  socketGroup?: string | undefined;
  socketAllow?: string[] | undefined;
}

/** What a uWSGI command line says about its socket (see uwsgi/command-line.ts). */
export interface UwsgiPermissionHints {
  chmod?: string | true | undefined;
  chown?: string | undefined;
  uid?: string | undefined;
  gid?: string | undefined;
}

/** --socket-mode's default, as the option table declares it. */
export const DEFAULT_SOCKET_MODE = parseMode(String(optionNamed('socketMode').default));

/**
 * Decides the socket's mode, owner and group; refuses what the invoking user may not give away.
 * `nginx`: findNginxUser()'s answer when the caller has it; else it is looked up if needed.
 */
export function resolveSocketPermissions(
  options: PermissionOptions,
  hints: UwsgiPermissionHints = {},
  invoking: Identity = currentIdentity(),
  nginx?: NginxUser | null,
): SocketPermissions {
  const mode =
    options.socketMode !== undefined
      ? parseMode(options.socketMode)
      : hints.chmod !== undefined
        ? parseUwsgiChmod(hints.chmod)
        : DEFAULT_SOCKET_MODE;

  let ownerValue: string | undefined;
  let groupValue: string | undefined;
  let ownerOption = '--socket-owner';
  let groupOption = '--socket-owner';
  if (options.socketOwner !== undefined) {
    ({ user: ownerValue, group: groupValue } = splitOwner(options.socketOwner));
  } else if (hints.chown !== undefined) {
    ({ user: ownerValue, group: groupValue } = splitOwner(hints.chown));
    ownerOption = groupOption = "uWSGI's --chown-socket";
  } else {
    ownerValue = hints.uid;
    groupValue = hints.gid;
    ownerOption = "uWSGI's --uid";
    groupOption = "uWSGI's --gid";
  }
  if (options.socketGroup !== undefined) {
    groupValue = options.socketGroup;
    groupOption = '--socket-group';
  }

  const owner = ownerValue ? resolveUser(ownerValue, ownerOption) : { name: invoking.name, uid: invoking.uid, gid: invoking.gid };
  let group: { name: string; gid: number };
  if (groupValue) {
    group = resolveGroup(groupValue, groupOption);
  } else if (invoking.uid === 0 && !ownerValue) {
    // As root with nothing said: the group nginx runs as, so that 0660 lets nginx in.
    group = (nginx === undefined ? findNginxUser() : nginx)?.group ?? resolveGroup(String(owner.gid), ownerOption);
  } else {
    group = resolveGroup(String(owner.gid), ownerOption);
  }

  if (invoking.uid !== 0) {
    if (owner.uid !== invoking.uid) {
      throw new UsageError(
        `Only root can give the socket to another user: you are '${invoking.name}' and asked for owner '${owner.name}'; drop ${ownerOption}, or run sockvisor as root.`,
      );
    }
    if (group.gid !== invoking.gid && !invoking.groups.includes(group.gid)) {
      throw new UsageError(
        `You ('${invoking.name}') are not a member of group '${group.name}', so you cannot give the socket to it: pick one of your groups (see 'id'), or use --socket-mode 0666 in a folder of your own.`,
      );
    }
  }
  const allow = resolveAllowed(options.socketAllow ?? [], owner.uid);
  const acl = allow.length > 0 ? socketAcl(mode, allow) : null;
  return { mode, uid: owner.uid, gid: group.gid, owner: owner.name, group: group.name, allow, acl };
}

/** The --socket-allow users, once each; the owner (and root) need no entry: they get in already. */
function resolveAllowed(values: string[], ownerUid: number): { uid: number; name: string }[] {
  const allowed = new Map<number, { uid: number; name: string }>();
  for (const value of values) {
    const user = resolveUser(value, '--socket-allow');
    if (user.uid !== ownerUid && user.uid !== 0) allowed.set(user.uid, { uid: user.uid, name: user.name });
  }
  return [...allowed.values()].sort((a, b) => a.uid - b.uid);
}

/** The mode the socket file shows (ls -l, stat): with an ACL, its group bits are the mask. */
export function fileMode(p: SocketPermissions): number {
  return p.acl ? modeOfAcl(p.acl) : p.mode;
}

/** One line for logs: 0660 root:www-data, or 0600 alice:alice + ACL user:www-data:rw- (ls -l: 0660+). */
export function describePermissions(p: SocketPermissions): string {
  const base = `${formatMode(p.mode)} ${p.owner}:${p.group}`;
  if (!p.acl) return base;
  const entries = p.acl
    .filter((e) => e.tag === 'user')
    .map(formatAclEntry)
    .join(',');
  return `${base} + ACL ${entries} (ls -l: ${formatMode(fileMode(p))}+)`;
}
