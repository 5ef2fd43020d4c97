// Self-healing of the held unix sockets: inotify (socket/folder-watch.ts) says when something
// happened to a socket file, its anchor or its folder; socket/repair-plan.ts decides; this module looks
// (lstat, fstat, connect), makes the repairs through the held O_PATH descriptor and its folder's
// descriptor (socket/folder.ts), never by name, and logs them as warnings saying what it found. It
// never throws: a repair that fails is logged and tried again at the next change, and on a timer
// (nothing inotify sees tells when space is freed, or when the server behind a foreign socket
// exits). socket/repair-pacing.ts sets the pace: the timed re-checks back off, a socket changed
// without pause is checked at a bounded rate, and repeated repairs are summed up in one line per
// interval.
import { fstatSync, lstatSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { changeHeldFile, linkHeldFile, removeIfSame, type NativeError } from '../native.js';
import { formatAclEntry, fromNativeAcl, readNativeAclOrNull } from './acl.js';
import { anchorPath } from './anchor.js';
import { createUnixListener, wantedAttributes, type HeldSocket, type HeldUnixSocket } from './create.js';
import { NewLinkError, removeIfSameFile, SocketFolder, type MadeDir } from './folder.js';
import { FolderWatcher } from './folder-watch.js';
import { groupNameOf, userNameOf } from './identity.js';
import {
  decidePathRepair,
  describeFinding,
  permissionSteps,
  type FileAttributes,
  type PathFinding,
  type PathRepair,
} from './repair-plan.js';
import { formatMode } from './mode.js';
import { describePermissions } from './permissions.js';
import { Backoff, CheckPacer, RepairLog, type RepairSummary } from './repair-pacing.js';
import { kindOf } from './preflight.js';
import { pathTrustProblem } from './path-trust.js';
import { lstatOrNull, probeListening } from './probe.js';

export interface HealerOptions {
  logger: Logger;
  /** repairs are made only while this says so: not while sockvisor stops (it removes the sockets itself) */
  isActive(): boolean;
  /**
   * A new socket took the place of `old` at its path (the old one had no name left): the children
   * must move to it. `old` is closed by the caller once no child uses it.
   */
  onReplaced(index: number, fresh: HeldUnixSocket, old: HeldUnixSocket): void;
  /** told every repair made, by its action (folder-made, relinked, created, permissions-restored, anchor-relinked) */
  onRepair?(action: string, path: string): void;
}

interface Entry {
  /** into the run's held sockets */
  index: number;
  socket: HeldUnixSocket;
  dir: string;
  /** the folder was a symlink at start (the user's layout, followed then as now) */
  folderWasLink: boolean;
  /** the anchor was linked at least once: its removal later is a repair worth a warning */
  anchored: boolean;
  /** the last problem logged for the path, the anchor, the folder: logged again only when it changes */
  problems: Map<'path' | 'anchor' | 'folder', string>;
}

/** The timers of one socket's checks (their pace: socket/repair-pacing.ts). */
interface Pacing {
  backoff: Backoff;
  /** the timed re-check while something stands in the way (a problem is logged) or a check failed */
  recheck: NodeJS.Timeout | null;
  pacer: CheckPacer;
  /** the one check that the events waiting for the pacer get */
  paced: NodeJS.Timeout | null;
  /** the last check's unexpected error: logged again only when it changes (the timed re-checks repeat it) */
  failed: string | null;
}

/** A repair's warning, or a problem's error (level set), as logged (or summed up later). */
interface Healed {
  fields: Record<string, unknown>;
  msg: string;
  /** a problem: logged at this level, summed up as said again rather than put right */
  level?: 'warn' | 'error';
}

/** look-again: the path changed meanwhile (EEXIST); folder-missing: it must be made (again) first */
type Outcome = 'done' | 'look-again' | 'folder-missing';

/** Watches the held unix sockets and puts each right when it is removed, replaced or changed by hand. */
export class SocketHealer {
  readonly #options: HealerOptions;
  readonly #log: Logger;
  readonly #entries: Entry[];
  readonly #watcher: FolderWatcher;
  readonly #pacing = new Map<Entry, Pacing>();
  readonly #repairLog = new RepairLog<Healed>();
  #summary: { timer: NodeJS.Timeout; at: number } | null = null;
  #closed = false;

  private constructor(entries: Entry[], options: HealerOptions) {
    this.#entries = entries;
    this.#options = options;
    this.#log = options.logger;
    this.#watcher = new FolderWatcher((dir) => this.#onFolderChange(dir));
    const now = performance.now();
    for (const entry of entries) {
      this.#pacing.set(entry, { backoff: new Backoff(), recheck: null, pacer: new CheckPacer(now), paced: null, failed: null });
    }
  }

  /** Gives each unix socket its anchor, watches their folders, and checks each once. */
  static start(held: HeldSocket[], options: HealerOptions): SocketHealer {
    const entries = held.flatMap((socket, index): Entry[] =>
      socket.kind === 'unix'
        ? [
            {
              index,
              socket,
              dir: dirname(socket.spec.path),
              folderWasLink: isSymlink(dirname(socket.spec.path)),
              anchored: false,
              problems: new Map(),
            },
          ]
        : [],
    );
    const healer = new SocketHealer(entries, options);
    for (const entry of entries) {
      healer.#watcher.addName(entry.dir, basename(entry.socket.spec.path));
      healer.#watcher.addName(entry.dir, basename(anchorPath(entry.socket.spec.path)));
    }
    for (const entry of entries) {
      const checked = healer.#guarded(entry, () => {
        healer.#check(entry);
        // Not watched (the error said why): not claimed either.
        if (!healer.#watcher.isWatching(entry.dir)) return;
        options.logger.info(
          { event: 'socket.watched', path: entry.socket.spec.path, anchor: anchorPath(entry.socket.spec.path), anchored: entry.anchored },
          entry.anchored
            ? `watching ${entry.socket.spec.path}: removed, replaced or changed by hand, it is put right at once (second name: ${anchorPath(entry.socket.spec.path)})`
            : `watching ${entry.socket.spec.path}: removed, replaced or changed by hand, it is put right at once`,
        );
      });
      healer.#settle(entry, checked);
    }
    return healer;
  }

  /** Stops watching and removes the anchors that are still the held sockets' own. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher.close();
    for (const pacing of this.#pacing.values()) {
      if (pacing.recheck) clearTimeout(pacing.recheck);
      if (pacing.paced) clearTimeout(pacing.paced);
    }
    if (this.#summary) clearTimeout(this.#summary.timer);
    this.#logSummaries(this.#repairLog.flush(performance.now()));
    for (const { socket } of this.#entries) {
      try {
        removeIfSameFile(anchorPath(socket.spec.path), socket, socket.links);
      } catch (error) {
        this.#log.warn(
          { event: 'socket.anchor-left', path: anchorPath(socket.spec.path), err: error },
          `could not remove ${anchorPath(socket.spec.path)} (${(error as NativeError).code})`,
        );
      }
    }
  }

  #onFolderChange(dir: string): void {
    for (const entry of this.#entries) if (entry.dir === dir) this.#requestCheck(entry);
  }

  /**
   * Checks the socket now, or, when it was checked too often lately (someone changes it without
   * pause), once the pacer allows: the events until then wait for that one check, and the folder's
   * watch is paused meanwhile so that they do not wake sockvisor one by one either.
   */
  #requestCheck(entry: Entry): void {
    const pacing = this.#pacing.get(entry)!;
    if (this.#closed || pacing.paced) return;
    const wait = pacing.pacer.take(performance.now());
    if (wait === 0) {
      this.#settle(
        entry,
        this.#guarded(entry, () => this.#check(entry)),
      );
      return;
    }
    this.#watcher.pause(entry.dir);
    pacing.paced = setTimeout(() => {
      pacing.paced = null;
      this.#watcher.resume(entry.dir);
      this.#requestCheck(entry);
    }, wait).unref();
  }

  /**
   * After a check: while something stands in the way (a problem is logged: a foreign socket, a file,
   * a repair that failed) or the check itself failed, the socket is looked at again on a timer,
   * backing off; once all is right, the timer stops and the backoff starts over.
   */
  #settle(entry: Entry, checked: boolean): void {
    const pacing = this.#pacing.get(entry)!;
    if (this.#closed || !this.#options.isActive()) return;
    if (checked && entry.problems.size === 0) {
      pacing.backoff.reset();
      if (pacing.recheck) clearTimeout(pacing.recheck);
      pacing.recheck = null;
      return;
    }
    if (pacing.recheck) return;
    pacing.recheck = setTimeout(() => {
      pacing.recheck = null;
      this.#requestCheck(entry);
    }, pacing.backoff.next()).unref();
  }

  /**
   * Runs a check; anything unexpected is logged (once until it changes), never thrown into the event
   * loop (it would end sockvisor). False then.
   */
  #guarded(entry: Entry, check: () => void): boolean {
    const pacing = this.#pacing.get(entry)!;
    try {
      check();
      pacing.failed = null;
      return true;
    } catch (error) {
      const message = `checking the socket ${entry.socket.spec.path} failed: ${(error as Error).message}`;
      if (pacing.failed !== message) this.#log.error({ event: 'socket.heal-failed', path: entry.socket.spec.path, err: error }, message);
      pacing.failed = message;
      return false;
    }
  }

  /** A repair's warning: the first of its kind in a while at once, the next ones summed up in one line per interval. */
  #healed(entry: Entry, fields: Healed['fields'] & { action: string }, msg: string): void {
    this.#options.onRepair?.(fields.action, entry.socket.spec.path);
    if (this.#repairLog.note(`${entry.index}:${fields.action}`, performance.now(), { fields, msg })) {
      this.#log.warn({ ...fields, count: 1 }, msg);
      return;
    }
    this.#planSummaries();
  }

  /** A timer for the next summary due (sooner, if one is due before the planned one). */
  #planSummaries(): void {
    const at = this.#repairLog.nextDue();
    if (at === null || this.#closed || (this.#summary && this.#summary.at <= at)) return;
    if (this.#summary) clearTimeout(this.#summary.timer);
    const timer = setTimeout(
      () => {
        this.#summary = null;
        this.#logSummaries(this.#repairLog.due(performance.now()));
        this.#planSummaries();
      },
      Math.max(0, at - performance.now()),
    ).unref();
    this.#summary = { timer, at };
  }

  #logSummaries(summaries: RepairSummary<Healed>[]): void {
    for (const { count, sinceMs, last } of summaries) {
      const times = `${count.toLocaleString('en-US')} more time${count === 1 ? '' : 's'}`;
      const since = `in the last ${Number((sinceMs / 1000).toFixed(1))} s`;
      const fields = { ...last.fields, count, intervalMs: Math.round(sinceMs) };
      if (last.level) this.#log[last.level](fields, `came back ${times} ${since} (put right or gone in between): ${last.msg}`);
      else this.#log.warn(fields, `put right ${times} ${since}; the last time, ${last.msg}`);
    }
  }

  #check(entry: Entry): void {
    if (this.#closed || !this.#options.isActive()) return;
    // A folder someone replaced by a symlink leads elsewhere: no socket is put there (one lstat).
    if (!entry.folderWasLink && isSymlink(entry.dir)) {
      this.#problem(
        entry,
        'folder',
        `the folder ${entry.dir} of the socket ${entry.socket.spec.path} is now a symbolic link: sockvisor does not follow it (it was a folder); remove the link, and sockvisor makes the folder again and puts its socket back (it looks again every 2 s at most)`,
      );
      return;
    }
    // Every change goes through the folder's descriptor, opened for this check without following
    // a symlink that was not there at start (socket/folder.ts), never through the path by name.
    const folder = new SocketFolder(entry.dir, entry.socket.links);
    try {
      // The path first, the folder after: while the path is missing nginx gets 502s, so the repair
      // comes before anything that can wait (each call costs tens of microseconds).
      for (let attempt = 0; attempt < 3; attempt++) {
        const found = inspectPath(entry.socket.spec.path, entry.socket);
        // Whether the inode has a name left matters only for one to give back: no fstat when the path is ours.
        const repair = decidePathRepair(found, found.kind !== 'ours' && isNamed(entry.socket));
        // No name is made where someone untrusted may now write a folder or own a link on the way (path-trust.ts).
        const untrusted = repair.action === 'relink' || repair.action === 'create' ? pathTrustProblem(entry.socket.spec) : null;
        if (untrusted) return this.#problem(entry, 'folder', untrusted);
        const outcome = this.#repair(entry, folder, found, repair);
        if (outcome === 'done') break;
        if (outcome === 'folder-missing' && !this.#ensureFolder(entry, folder, true)) return;
      }
      if (!this.#ensureFolder(entry, folder, false)) return;
      this.#checkAnchor(entry, folder);
    } finally {
      folder.close();
    }
  }

  /**
   * The folder: made again (0755) when removed, watched anew when it is another one now; false when
   * it cannot hold the socket. missing: the repair found it gone, so it is opened (or made) anew.
   */
  #ensureFolder(entry: Entry, folder: SocketFolder, missing: boolean): boolean {
    const { dir } = entry;
    const path = entry.socket.spec.path;
    const made: MadeDir[] = [];
    let fd: number;
    try {
      fd = missing ? folder.reopen(made) : folder.fd();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !missing) return this.#ensureFolder(entry, folder, true);
      this.#noteMade(entry, made);
      this.#problem(entry, 'folder', this.#folderProblem(dir, path, error as NativeError));
      return false;
    }
    if (made.length > 0) {
      this.#noteMade(entry, made);
      const folders = made.map((d) => d.path);
      const message = `someone removed the folder ${dir} of the socket ${path}: made it again (0755)`;
      this.#healed(entry, { event: 'socket.healed', path, action: 'folder-made', folders }, message);
    }
    try {
      // The watch goes on the very folder the descriptor holds, not on whatever the path leads to by now.
      this.#watcher.arm(dir, fstatSync(fd), `/proc/self/fd/${fd}`);
    } catch (error) {
      this.#problem(
        entry,
        'folder',
        `cannot watch the folder ${dir} (${(error as NodeJS.ErrnoException).code}): if the socket ${path} is removed or changed, sockvisor will not notice (ENOSPC: raise the sysctl fs.inotify.max_user_watches; EMFILE: fs.inotify.max_user_instances)`,
      );
      // The repair now is still worth making.
      return true;
    }
    entry.problems.delete('folder');
    return true;
  }

  /**
   * Folders made for the socket are removed again on stop (even those made by a repair that failed
   * later); one made again at a path replaces the one made there before, which is gone from it.
   */
  #noteMade(entry: Entry, made: MadeDir[]): void {
    const known = entry.socket.createdDirs;
    for (const d of made) {
      const at = known.findIndex((k) => k.path === d.path);
      if (at >= 0) known[at] = d;
      else known.push(d);
    }
  }

  #folderProblem(dir: string, path: string, error: NativeError): string {
    if (error instanceof NewLinkError) {
      // The timed re-checks (#settle) look again while this stands: no restart is needed once the link is gone.
      return (
        `the folder ${dir} of the socket ${path} cannot be reached: ${error.message}; remove the link (or point it back ` +
        'where it led at start), and sockvisor puts its socket back (it looks again every 2 s at most)'
      );
    }
    if (error.code === 'ENOTDIR') return notAFolder(dir, path);
    if (error.code === 'EEXIST') {
      return (
        `the folder ${dir} of the socket ${path} was removed, and while sockvisor made it again someone put something else at ` +
        'its name: sockvisor leaves that alone (check who else can write the folder above)'
      );
    }
    return `the folder ${dir} of the socket ${path} was removed and cannot be made again (${error.code})`;
  }

  #repair(entry: Entry, folder: SocketFolder, found: PathFinding, repair: PathRepair): Outcome {
    const { socket } = entry;
    const path = socket.spec.path;
    switch (repair.action) {
      case 'check-permissions':
        entry.problems.delete('path');
        this.#repairPermissions(entry);
        return 'done';
      case 'leave':
        this.#problem(
          entry,
          'path',
          `the socket path ${path} now holds ${describeFinding(found)}, not the socket sockvisor holds, so nginx cannot reach the app there; ${repair.why}: move it away and sockvisor puts its socket back at once (or stop sockvisor and choose another --socket path)`,
          { found: found.kind },
        );
        return 'done';
      case 'relink':
      case 'create':
        if (repair.stale && !removeInFolder(folder, basename(path), repair.stale)) return 'look-again';
        return repair.action === 'relink' ? this.#relink(entry, folder, found) : this.#create(entry, folder, found);
    }
  }

  /** Links the held inode back at the path: the same socket, its permissions, the child on it untouched. */
  #relink(entry: Entry, folder: SocketFolder, found: PathFinding): Outcome {
    const { socket } = entry;
    const path = socket.spec.path;
    try {
      linkHeldFile(socket.pathFd, folder.fd(), basename(path));
    } catch (error) {
      const code = (error as NativeError).code;
      if (code === 'EEXIST') return 'look-again';
      if (code === 'ENOTDIR' || error instanceof NewLinkError || (code === 'ENOENT' && isNamed(socket))) return 'folder-missing';
      // ENOENT: its last name went meanwhile; EPERM: fs.protected_hardlinks (someone else owns it now).
      this.#log.warn(
        { event: 'socket.relink-failed', path, code },
        `could not link the socket ${path} back (${code}): making a new one instead`,
      );
      return this.#create(entry, folder, found);
    }
    entry.problems.delete('path');
    const what =
      found.kind === 'missing' ? `someone removed the socket ${path}` : `someone put ${describeFinding(found)} at ${path} (replaced)`;
    this.#healed(
      entry,
      { event: 'socket.healed', path, action: 'relinked', found: found.kind, inode: Number(socket.ino) },
      `${what}: linked the same socket back (inode ${socket.ino}, kept by its second name ${anchorPath(path)}); nothing else changes`,
    );
    return 'done';
  }

  /** The held inode has no name left: a new socket at the path (born 0000, then its permissions), and a handover to it. */
  #create(entry: Entry, folder: SocketFolder, found: PathFinding): Outcome {
    const old = entry.socket;
    const path = old.spec.path;
    let fresh: HeldUnixSocket;
    try {
      fresh = createUnixListener(old.spec, old.permissions, old.backlog, { folder: folder.fd(), links: old.links });
    } catch (error) {
      // The folder's descriptor could not be had: gone, a file, or a new symlink on the way.
      const code = (error as NativeError).code;
      if (error instanceof NewLinkError || code === 'ENOENT' || code === 'ENOTDIR') return 'folder-missing';
      const cause = (error as Error).cause as NativeError | undefined;
      if (cause?.code === 'EADDRINUSE') return 'look-again';
      // bind() landed elsewhere (a folder swapped meanwhile): nothing was changed there; said, then tried again.
      if (cause?.code === 'ENOENT' && cause.syscall === 'open') {
        this.#problem(entry, 'path', `the socket ${path} was removed and a new one cannot be made: ${(error as Error).message}`);
        return 'look-again';
      }
      if (cause?.code === 'ENOENT' || cause?.code === 'ENOTDIR') return 'folder-missing';
      this.#problem(entry, 'path', `the socket ${path} was removed and a new one cannot be made: ${(error as Error).message}`);
      return 'done';
    }
    fresh.createdDirs = old.createdDirs;
    // An anchor still naming the old inode (linking back was refused) would keep the new one from its own.
    removeInFolder(folder, basename(anchorPath(path)), old);
    entry.socket = fresh;
    entry.anchored = false;
    entry.problems.delete('path');
    const what =
      found.kind === 'missing'
        ? `someone removed the socket ${path} and its second name ${anchorPath(path)}`
        : `someone put ${describeFinding(found)} at ${path} (replaced)`;
    this.#healed(
      entry,
      { event: 'socket.healed', path, action: 'created', found: found.kind, inode: Number(fresh.ino), oldInode: Number(old.ino) },
      `${what}: made a new socket there (${describePermissions(fresh.permissions)}, inode ${fresh.ino}); a new child takes over on it, then the old one finishes its requests and exits`,
    );
    this.#options.onReplaced(entry.index, fresh, old);
    return 'done';
  }

  /** Mode, owner and ACL of the held inode, compared with what they should be, and restored in place. */
  #repairPermissions(entry: Entry): void {
    const { socket } = entry;
    const path = socket.spec.path;
    const found = heldAttributes(socket);
    const p = socket.permissions;
    const steps = permissionSteps(found, wantedAttributes(p));
    if (steps.length === 0) return;
    try {
      for (const step of steps) changeHeldFile(socket.pathFd, step);
    } catch (error) {
      const e = error as NativeError;
      this.#problem(
        entry,
        'path',
        `someone changed the socket ${path} to ${describeAttributes(found)} and it cannot be restored (${e.syscall}: ${e.code}): restore ${describePermissions(p)} by hand`,
      );
      return;
    }
    this.#healed(
      entry,
      { event: 'socket.healed', path, action: 'permissions-restored', found: describeAttributes(found), restored: describePermissions(p) },
      `someone changed the socket ${path}: found ${describeAttributes(found)}, restored ${describePermissions(p)}`,
    );
  }

  /** The anchor: linked again when removed; something else at its name is left alone (said once). */
  #checkAnchor(entry: Entry, folder: SocketFolder): void {
    const { socket } = entry;
    const path = socket.spec.path;
    const anchor = anchorPath(path);
    const found = inspectPath(anchor, socket);
    if (found.kind === 'ours') {
      entry.anchored = true;
      entry.problems.delete('anchor');
      return;
    }
    if (!isNamed(socket)) return;
    if (found.kind === 'missing' || (found.kind === 'stale-socket' && removeInFolder(folder, basename(anchor), found))) {
      try {
        linkHeldFile(socket.pathFd, folder.fd(), basename(anchor));
      } catch (error) {
        const code = (error as NativeError).code;
        if (code !== 'EEXIST') {
          this.#problem(
            entry,
            'anchor',
            `cannot give the socket ${path} its second name ${anchor} (${code}): if the socket is removed, sockvisor makes a new one and hands the child over to it, instead of linking the same socket back`,
          );
        }
        return;
      }
      if (entry.anchored) {
        this.#healed(
          entry,
          { event: 'socket.healed', path: anchor, action: 'anchor-relinked', found: found.kind },
          `someone removed ${anchor}, the second name of the socket ${path}: linked it again`,
        );
      }
      entry.anchored = true;
      entry.problems.delete('anchor');
      return;
    }
    this.#problem(
      entry,
      'anchor',
      `'${anchor}' holds ${describeFinding(found)}, not a second name of the socket ${path}: sockvisor leaves it alone; if the socket is removed, sockvisor makes a new one and hands the child over to it, instead of linking the same socket back`,
    );
  }

  /** Logs a problem once (as an error for the path and folder, a warning for the anchor), not at every change. */
  #problem(entry: Entry, where: 'path' | 'anchor' | 'folder', message: string, fields: Record<string, unknown> = {}): void {
    if (entry.problems.get(where) === message) return;
    entry.problems.set(where, message);
    const level = where === 'anchor' ? 'warn' : 'error';
    const record = { event: where === 'anchor' ? 'socket.anchor-problem' : 'socket.heal-refused', path: entry.socket.spec.path, ...fields };
    // A problem that clears and comes back (a symlink swapped in and out without pause) is said at
    // once the first time, then summed up once per interval like repairs: no one can fill the log.
    if (this.#repairLog.note(`${entry.index}:problem:${where}:${message}`, performance.now(), { fields: record, msg: message, level })) {
      this.#log[level]({ ...record, count: 1 }, message);
      return;
    }
    this.#planSummaries();
  }
}

/** What is at path (the socket's, or its anchor's): the held inode, nothing, or something else (a socket is probed with connect()). */
function inspectPath(path: string, held: { dev: bigint; ino: bigint }): PathFinding {
  let st;
  try {
    st = lstatOrNull(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The folder itself is gone or replaced: the repair finds out (folder-missing).
    if (code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'not-a-socket', what: `something sockvisor cannot examine (lstat: ${code})` };
  }
  if (!st) return { kind: 'missing' };
  if (!st.isSocket()) {
    const kind = kindOf(st);
    return { kind: 'not-a-socket', what: kind === 'not a socket' ? 'a file that is not a socket' : kind };
  }
  if (st.dev === held.dev && st.ino === held.ino) return { kind: 'ours' };
  const probe = probeListening(path);
  if (probe.state === 'live') return { kind: 'live-socket' };
  if (probe.state === 'stale') return { kind: 'stale-socket', dev: st.dev, ino: st.ino };
  return { kind: 'unknown-socket', code: probe.code };
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
  } catch {
    return false;
  }
}

/** Whether the held inode still has a name somewhere (the kernel links it again only then). */
function isNamed(socket: HeldUnixSocket): boolean {
  return fstatSync(socket.pathFd).nlink > 0;
}

/** The held inode's mode, owner and ACL, read through its descriptor (getxattr follows /proc/self/fd/N to it). */
function heldAttributes(socket: HeldUnixSocket): FileAttributes {
  const st = fstatSync(socket.pathFd);
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, acl: readNativeAclOrNull(`/proc/self/fd/${socket.pathFd}`) };
}

/** 0777 nobody:nogroup, + ACL user:evil:rw- when it has named entries. */
function describeAttributes(a: FileAttributes): string {
  const owner = userNameOf(a.uid);
  const group = groupNameOf(a.gid);
  const named = a.acl ? fromNativeAcl(a.acl).filter((e) => e.tag === 'user' || e.tag === 'group') : [];
  return `${formatMode(a.mode)} ${owner}:${group}${named.length > 0 ? ` + ACL ${named.map(formatAclEntry).join(',')}` : ''}`;
}

function notAFolder(dir: string, path: string): string {
  return (
    `'${dir}' is no longer a folder, so the socket ${path} cannot be put back: sockvisor never removes it; ` +
    'move it away, and sockvisor makes the folder again and puts its socket back (it looks again every 2 s at most)'
  );
}

/** Removes name in the socket's folder only if it is still that socket; false when it is not, or the folder cannot be reached. */
function removeInFolder(folder: SocketFolder, name: string, id: { dev: bigint; ino: bigint }): boolean {
  try {
    return removeIfSame(folder.fd(), name, id, false);
  } catch {
    return false;
  }
}
