// The folders of the socket paths, reached through descriptors and never acted on by name after a
// check. sockvisor runs as root, and the folder above a socket may be writable by a less trusted
// user (the child's, nginx's): if a folder were made by name and then chmodded by name, that user
// could swap a symlink in between, and root would chmod whatever it leads to (/etc/shadow 0755).
// So a folder is opened from '/' one component at a time (openat O_NOFOLLOW, native/dir_ops.cc),
// made with mkdirat in its parent's descriptor and given its mode through its own descriptor, and
// every name in it (the socket, its anchor) is linked and removed through that descriptor.
//
// A symlink on the way is followed only if it was there at start with the same target: it is then
// part of the user's layout (/var/run -> /run, a folder linked elsewhere), walked by the same rules.
// A symlink that appears later is never followed.
import { basename, dirname, join } from 'node:path';
import { closeFd, makeFolder, openFolder, readLinkAt, removeIfSame, type NativeError } from '../native.js';

/** The symlinks met on the way to a socket's folder at start: link path -> its target then. */
export type FolderLinks = Map<string, string>;

/** A folder sockvisor made, removed again on stop only while it is still that folder and empty. */
export interface MadeDir {
  path: string;
  dev: bigint;
  ino: bigint;
}

/** A symlink on the way to a folder that was not there at start (or leads elsewhere now): not followed. */
export class NewLinkError extends Error {
  readonly code = 'ENEWLINK';
  constructor(readonly link: string) {
    super(`'${link}' is a symbolic link that was not there when sockvisor started (or now leads elsewhere): sockvisor does not follow it`);
  }
}

export interface OpenFolderOptions {
  /** at start: the symlinks met are recorded into links (the user's layout), not checked against it */
  record?: boolean;
  /** make the missing folders of dir itself (not of a symlink's target), 0755, each pushed onto made */
  made?: MadeDir[];
}

// Folders sockvisor makes: 0755 whatever the umask, like systemd's DirectoryMode=: nginx must be able to search them.
const FOLDER_MODE = 0o755;
// The kernel's own limit on symlinks in one lookup (MAXSYMLINKS).
const MAX_LINKS = 40;
// How often a name is looked at again when a folder appears or is swapped at it while being made.
const MAKE_TRIES = 3;

interface Step {
  name: string;
  /** a component of the folder asked for, not of a symlink's target: only those are made */
  own: boolean;
}

function components(path: string, own: boolean): Step[] {
  return path
    .split('/')
    .filter((name) => name !== '' && name !== '.')
    .map((name) => ({ name, own }));
}

/**
 * Opens the folder dir (absolute) without following any symlink but those of links, making its
 * missing folders with options.made; returns its O_PATH descriptor, the caller's to close. Throws
 * the addon's errors (ENOENT, ENOTDIR for a file on the way, EEXIST when a folder being made was
 * swapped away) or a NewLinkError.
 */
export function openFolderPath(dir: string, links: FolderLinks, options: OpenFolderOptions = {}): number {
  const steps = components(dir, true);
  let fd = openFolder(null, '/');
  let at = '/';
  let hops = 0;
  let tries = 0;
  try {
    for (let step = steps.shift(); step !== undefined; step = steps.shift()) {
      const { name, own } = step;
      let next: number;
      try {
        next = openFolder(fd, name);
      } catch (error) {
        const code = (error as NativeError).code;
        if (code === 'ENOENT' && own && options.made && steps.every((s) => s.own)) {
          try {
            const folder = makeFolder(fd, name, FOLDER_MODE);
            options.made.push({ path: join(at, name), dev: folder.dev, ino: folder.ino });
            next = folder.fd;
          } catch (makeError) {
            // Someone made that name meanwhile (or swapped ours away): look at what is there now.
            if ((makeError as NativeError).code !== 'EEXIST' || ++tries >= MAKE_TRIES) throw makeError;
            steps.unshift(step);
            continue;
          }
        } else if (code === 'ENOTDIR') {
          const target = linkTargetOrNull(fd, name);
          if (target === null) throw error;
          const link = join(at, name);
          if (options.record) links.set(link, target);
          else if (links.get(link) !== target) throw new NewLinkError(link);
          if (++hops > MAX_LINKS) throw Object.assign(new Error(`too many symbolic links on the way to '${dir}'`), { code: 'ELOOP' });
          steps.unshift(...components(target, false));
          if (target.startsWith('/')) {
            closeFd(fd);
            fd = -1;
            fd = openFolder(null, '/');
            at = '/';
          }
          continue;
        } else {
          throw error;
        }
      }
      closeFd(fd);
      fd = next;
      at = name === '..' ? dirname(at) : join(at, name);
    }
    return fd;
  } catch (error) {
    if (fd >= 0) closeFd(fd);
    throw error;
  }
}

function linkTargetOrNull(dirFd: number, name: string): string | null {
  try {
    return readLinkAt(dirFd, name);
  } catch {
    return null; // EINVAL: a file, not a symlink
  }
}

/**
 * Removes the socket file at path only if it still is the inode recorded (a stale socket found
 * earlier, or one of our own on stop), through its folder's descriptor; false when it is gone, is
 * another file, or its folder cannot be reached without a new symlink (then nothing is removed).
 */
export function removeIfSameFile(path: string, id: { dev: bigint; ino: bigint }, links: FolderLinks): boolean {
  let fd;
  try {
    fd = openFolderPath(dirname(path), links);
  } catch {
    return false;
  }
  try {
    return removeIfSame(fd, basename(path), id, false);
  } finally {
    closeFd(fd);
  }
}

/**
 * Removes the folders sockvisor made, innermost first, stopping at one that is not empty or is
 * another file now (one already gone is passed over: the same path may have been made twice).
 */
export function removeMadeDirs(made: MadeDir[], links: FolderLinks): void {
  for (const dir of [...made].reverse()) {
    let fd;
    try {
      fd = openFolderPath(dirname(dir.path), links);
    } catch {
      return;
    }
    try {
      if (!removeIfSame(fd, basename(dir.path), dir, true) && !isMissing(fd, basename(dir.path))) return;
    } catch {
      return; // not empty (someone else's files): keep it
    } finally {
      closeFd(fd);
    }
  }
}

function isMissing(dirFd: number, name: string): boolean {
  try {
    closeFd(openFolder(dirFd, name));
    return false;
  } catch (error) {
    return (error as NativeError).code === 'ENOENT';
  }
}

/** The folder of a socket for one check of the healer: opened when first needed, closed at the check's end. */
export class SocketFolder {
  #fd: number | null = null;

  constructor(
    readonly dir: string,
    readonly links: FolderLinks,
  ) {}

  /** Its descriptor (opened now if need be); throws as openFolderPath. */
  fd(): number {
    this.#fd ??= openFolderPath(this.dir, this.links);
    return this.#fd;
  }

  /** Opens it anew, making the missing folders (pushed onto made): for when it was removed. */
  reopen(made: MadeDir[]): number {
    this.close();
    this.#fd = openFolderPath(this.dir, this.links, { made });
    return this.#fd;
  }

  close(): void {
    if (this.#fd !== null) closeFd(this.#fd);
    this.#fd = null;
  }
}
