// Watching the folders of the held sockets, without polling: fs.watch on a folder is one inotify
// watch (libuv adds IN_ATTRIB, IN_CREATE, IN_DELETE, IN_MODIFY, IN_MOVED_FROM/TO, IN_DELETE_SELF and
// IN_MOVE_SELF). A chmod, chown or setfacl of an entry arrives as 'change' with its name; a create,
// remove or rename as 'rename'; the folder's own removal or renaming as 'rename' with the folder's
// own name (inotify gives no name for those; libuv passes the watched path's basename).
//
// A watch stays on the folder's inode: once the folder is removed (and made again) or renamed, the
// path leads elsewhere and arm() must be called again. (IN_DELETE_SELF may not even come: a removed
// folder's inode lives on while a descriptor of a file that was in it, sockvisor's O_PATH one, is
// open. Its entries' removal is seen first, and every check looks at the folder too.)
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';

interface FolderWatch {
  watcher: FSWatcher;
  dev: number;
  ino: number;
}

/** One inotify watch per folder; calls back once per burst of changes to the names it is told about. */
export class FolderWatcher {
  readonly #onChange: (dir: string) => void;
  readonly #onError: (dir: string, error: Error) => void;
  readonly #names = new Map<string, Set<string>>();
  readonly #watches = new Map<string, FolderWatch>();
  /** folders checked at once in this loop turn; their later events in it wait for the turn's end */
  readonly #checked = new Set<string>();
  readonly #due = new Set<string>();
  #immediate: NodeJS.Immediate | null = null;

  /**
   * onChange(dir) runs at the first change of a watched name of dir (at once: while a socket is
   * missing, nginx gets 502s), and once more at the end of the loop turn if more changes came in
   * it (libuv delivers the events of one read() one by one), so a burst costs two checks at most.
   * onError when a watch fails after it was made.
   */
  constructor(onChange: (dir: string) => void, onError: (dir: string, error: Error) => void) {
    this.#onChange = onChange;
    this.#onError = onError;
  }

  /** Changes to `name` in `dir` call back (other entries of a busy folder, /tmp say, do not). */
  addName(dir: string, name: string): void {
    const names = this.#names.get(dir) ?? new Set([basename(dir)]);
    names.add(name);
    this.#names.set(dir, names);
  }

  /**
   * Watches dir, or watches it anew when the path now leads to another folder (made again, or
   * another one renamed into its place); true when a new watch was made. Throws fs.watch's error
   * (ENOSPC: fs.inotify.max_user_watches is reached; ENOENT: the folder is gone).
   */
  arm(dir: string): boolean {
    // stat before watch: if the folder is swapped in between, the inode recorded is the older one,
    // and the next check watches again (the other order would keep watching a folder moved away).
    const st = statSync(dir);
    const known = this.#watches.get(dir);
    if (known && known.dev === st.dev && known.ino === st.ino) return false;
    known?.watcher.close();
    this.#watches.delete(dir);
    const watcher = watch(dir, { persistent: false }, (_event, name) => this.#onEvent(dir, name));
    watcher.on('error', (error) => {
      this.#watches.delete(dir);
      this.#onError(dir, error);
    });
    this.#watches.set(dir, { watcher, dev: st.dev, ino: st.ino });
    return true;
  }

  /** Stops every watch. */
  close(): void {
    for (const { watcher } of this.#watches.values()) watcher.close();
    this.#watches.clear();
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = null;
    this.#due.clear();
    this.#checked.clear();
  }

  #onEvent(dir: string, name: string | Buffer | null): void {
    if (name !== null && !this.#names.get(dir)?.has(name.toString())) return;
    if (this.#checked.has(dir)) this.#due.add(dir);
    this.#immediate ??= setImmediate(() => {
      this.#immediate = null;
      const due = [...this.#due];
      this.#due.clear();
      this.#checked.clear();
      for (const d of due) this.#onChange(d);
    });
    if (this.#due.has(dir)) return;
    this.#checked.add(dir);
    this.#onChange(dir);
  }
}
