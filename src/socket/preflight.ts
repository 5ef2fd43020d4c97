// Checks made on every socket path before anything is created, so that bad input changes nothing.
// sockvisor never removes or follows what it did not create: only a socket file nobody listens on
// (a stale one, e.g. left by a crash) is replaced.
import { accessSync, constants, statSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { supportsAcl } from './acl.js';
import { preflightAnchor } from './anchor.js';
import { fileSystemOf } from './mounts.js';
import { lstatOrNull, probeListening } from './probe.js';
import type { SocketSpec, UnixSocketSpec } from './spec.js';

export interface SocketPreflight {
  spec: SocketSpec;
  /** parent folders that do not exist yet, outermost first */
  missingDirs: string[];
  /** a stale socket file at the path, to be replaced if it is still the same inode */
  stale: { dev: bigint; ino: bigint } | null;
  /** a stale socket at the anchor's name (socket/anchor.ts), removed with the stale socket */
  staleAnchor?: { dev: bigint; ino: bigint } | null;
}

/** Names what a non-socket file is, for error sentences. */
export function kindOf(st: BigIntStats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  return 'not a socket';
}

/** Finds the folders to create and checks the nearest existing one can be written (and hold ACLs, when asked). */
function checkParents(path: string, acl: boolean): string[] {
  const missing: string[] = [];
  let dir = dirname(path);
  for (;;) {
    let st;
    try {
      st = statSync(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        missing.unshift(dir);
        dir = dirname(dir);
        continue;
      }
      throw new UsageError(`The folder '${dir}' for the socket '${path}' cannot be examined (${code}): check its permissions.`);
    }
    if (!st.isDirectory()) {
      throw new UsageError(`'${dir}' is not a folder, so the socket '${path}' cannot be created in it: choose another path.`);
    }
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      const who = process.geteuid!() === 0 ? 'root' : `user ${process.geteuid!()}`;
      throw new UsageError(
        `The folder '${dir}' cannot be written by ${who}, so the socket '${path}' cannot be created there: choose a folder you own (e.g. $XDG_RUNTIME_DIR or ~/run), or have root create '${missing[0] ?? dirname(path)}' for you.`,
      );
    }
    // Folders sockvisor makes live on the same file system as the nearest existing one.
    if (acl && !supportsAcl(dir)) throw noAclSupport(path, dir);
    return missing;
  }
}

/** --socket-allow on a file system without POSIX ACLs (ramfs, vfat, some FUSE and network mounts). */
export function noAclSupport(path: string, dir: string): UsageError {
  const fs = fileSystemOf(dir);
  return new UsageError(
    `The file system of '${dir}'${fs ? ` (${fs})` : ''} has no POSIX ACL support, so --socket-allow cannot let anyone into '${path}': put the socket on one that has it (ext4, xfs, btrfs, tmpfs such as /run or $XDG_RUNTIME_DIR), or drop --socket-allow and use --socket-group GROUP (as root, or a group of yours that nginx is in).`,
  );
}

export interface PreflightOptions {
  /** the sockets get an ACL (--socket-allow): their folders must support one */
  acl?: boolean;
  /** each socket gets an anchor (sockvisor run's self-healing): its name must be free or stale */
  anchor?: boolean;
}

/** Checks one socket path; throws a UsageError naming the path and the fix. */
export function preflightSocket(spec: UnixSocketSpec, options: PreflightOptions = {}): SocketPreflight {
  const { path } = spec;
  const missingDirs = checkParents(path, options.acl ?? false);
  const st = missingDirs.length > 0 ? null : lstatOrNull(path);
  // The path first (what the user named), then the anchor's name next to it.
  const anchor = (): { dev: bigint; ino: bigint } | null => (options.anchor && missingDirs.length === 0 ? preflightAnchor(path) : null);
  if (!st) return { spec, missingDirs, stale: null, staleAnchor: anchor() };
  if (!st.isSocket()) {
    throw new UsageError(
      `'${path}' is ${kindOf(st)}, not a socket; sockvisor never removes or follows it: move it away yourself, or choose another --socket path.`,
    );
  }
  const probe = probeListening(path);
  if (probe.state === 'live') {
    throw new UsageError(
      `A server is already listening on '${path}' (another sockvisor or uWSGI?): stop it first, or choose another --socket path.`,
    );
  }
  if (probe.state === 'unknown') {
    throw new UsageError(
      `Cannot tell whether the socket '${path}' is still in use (connect failed with ${probe.code}): remove it yourself if it is stale, or choose another path.`,
    );
  }
  return { spec, missingDirs, stale: { dev: st.dev, ino: st.ino }, staleAnchor: anchor() };
}

/** Checks every socket before any is created (a TCP address has no file to check: bind() tells). */
export function preflightSockets(specs: SocketSpec[], options: PreflightOptions = {}): SocketPreflight[] {
  return specs.map((spec) => (spec.kind === 'unix' ? preflightSocket(spec, options) : { spec, missingDirs: [], stale: null }));
}
