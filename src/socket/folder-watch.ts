// Watching the folders of the held sockets, without polling: one inotify watch per folder
// (native/folder_watch.cc), for the events a socket file can go through: created, removed, renamed,
// chmod, chown, setxattr, and the folder's own removal or renaming. Not writes: Node's fs.watch
// would add IN_MODIFY, and every write to any file next to the socket would wake sockvisor.
//
// A watch stays on the folder's inode: once the folder is removed (and made again) or renamed, the
// path leads elsewhere and arm() must be called again. (IN_DELETE_SELF may not even come: a removed
// folder's inode lives on while a descriptor of a file that was in it, sockvisor's O_PATH one, is
// open. Its entries' removal is seen first, and every check looks at the folder too.)
import { statSync, type Stats } from 'node:fs';
import { watchFolder, type FolderWatchHandle } from '../native.js';

interface FolderWatch {
  handle: FolderWatchHandle;
  dev: number;
  ino: number;
}

/** One inotify watch per folder; calls back once per wakeup in which a name it was told about changed. */
export class FolderWatcher {
  readonly #onChange: (dir: string) => void;
  readonly #names = new Map<string, Set<string>>();
  readonly #watches = new Map<string, FolderWatch>();

  /** onChange(dir) runs once for all the events of dir that one read() of its inotify descriptor brings. */
  constructor(onChange: (dir: string) => void) {
    this.#onChange = onChange;
  }

  /** Changes to `name` in `dir` call back (other entries of a busy folder, /tmp say, do not). */
  addName(dir: string, name: string): void {
    const names = this.#names.get(dir) ?? new Set();
    names.add(name);
    this.#names.set(dir, names);
  }

  /**
   * Watches dir, or watches it anew when the path now leads to another folder (made again, or
   * another one renamed into its place); true when a new watch was made. Throws the addon's error
   * (ENOSPC: fs.inotify.max_user_watches is reached; ENOENT: the folder is gone). `st`: the
   * caller's stat of dir, when it has just made one; `target`: where to put the watch, when the
   * caller holds the folder as a descriptor (/proc/self/fd/N: that very folder, not what dir names by now).
   */
  arm(dir: string, st: Stats = statSync(dir), target: string = dir): boolean {
    // stat before watching: if the folder is swapped in between, the inode recorded is the older
    // one and the next check watches again (the other order would keep a folder moved away).
    const known = this.#watches.get(dir);
    if (known && known.dev === st.dev && known.ino === st.ino) return false;
    known?.handle.close();
    this.#watches.delete(dir);
    const handle = watchFolder(target, (names) => this.#onEvents(dir, names));
    this.#watches.set(dir, { handle, dev: st.dev, ino: st.ino });
    return true;
  }

  /** Whether dir has a watch (arm() succeeded for it). */
  isWatching(dir: string): boolean {
    return this.#watches.has(dir);
  }

  /**
   * Stops reading dir's events until resume(dir) (a socket checked at a paced rate: a storm of
   * chmods must not wake sockvisor once per event). Nothing is lost: the kernel queues them, and
   * a queue that overflows meanwhile is reported as the folder itself (everything is looked at).
   */
  pause(dir: string): void {
    this.#watches.get(dir)?.handle.pause();
  }

  /** Reads dir's events again (those queued meanwhile come at the next turn of the loop). */
  resume(dir: string): void {
    this.#watches.get(dir)?.handle.resume();
  }

  /** Stops every watch. */
  close(): void {
    for (const { handle } of this.#watches.values()) handle.close();
    this.#watches.clear();
  }

  #onEvents(dir: string, names: (string | null)[]): void {
    const watched = this.#names.get(dir);
    if (names.some((name) => name === null || watched?.has(name))) this.#onChange(dir);
  }
}
