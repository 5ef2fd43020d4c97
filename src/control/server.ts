// The control socket of a run: `sockvisor status`, `reload` and `stop` ask the running sockvisor
// through it. Who may ask is decided twice: the file is born 0000 and then made 0600, owned by
// sockvisor's own user (bindUnixSocket, as the app's sockets are), so connect() is refused to
// anyone else but root; and each connection's peer credentials (SO_PEERCRED) must be root or
// sockvisor's uid, so that a descriptor leaked or passed to another user still gets nothing.
import { fstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { closeFd, peerCredentials, unixListenQueue } from '../native.js';
import { bindUnixSocket, type HeldSocket } from '../socket/create.js';
import { openFolderPath, removeIfSameFile, type FolderLinks } from '../socket/folder.js';
import { formatMode } from '../socket/mode.js';
import { lstatOrNull, probeListening } from '../socket/probe.js';
import { describeHeldSocket } from '../socket/spec.js';
import type { ChildSupervisor } from '../supervisor/child-supervisor.js';
import type { LogEntry } from '../supervisor/lifecycle-log.js';
import { parseRequest, type ControlAnswer, type ControlRequest, type SocketStatus } from './protocol.js';
import type { RunStats } from './stats.js';
import { VERSION } from './version.js';

/** A request line longer than this is no request: the connection is closed. */
const MAX_REQUEST_BYTES = 4096;

export interface ControlOptions {
  path: string;
  /** the symlinks on the way to the app socket's folder at start: the only ones followed (socket/folder.ts) */
  links: FolderLinks;
  supervisor: ChildSupervisor;
  stats: RunStats;
  /** the held sockets now (the healer may have made one anew) */
  sockets: () => readonly HeldSocket[];
  logger: Logger;
}

/** The figures of one held socket now: its inode's owner and mode, and its accept queue. */
export function socketStatus(socket: HeldSocket): SocketStatus {
  const address = describeHeldSocket(socket);
  if (socket.kind === 'tcp') {
    return {
      name: socket.spec.name,
      kind: 'tcp',
      address,
      owner: null,
      group: null,
      uid: null,
      gid: null,
      mode: null,
      inode: null,
      queued: null,
      backlog: socket.backlog,
    };
  }
  const { permissions: p } = socket;
  let st: { uid: number; gid: number; mode: number } | null = null;
  try {
    st = fstatSync(socket.pathFd);
  } catch {
    // closed meanwhile (made anew): the figures below say null
  }
  let queued: number | null = null;
  let backlog = socket.backlog;
  try {
    ({ queued, backlog } = unixListenQueue(socket.fd));
  } catch {
    // an old socket closed meanwhile
  }
  return {
    name: socket.spec.name,
    kind: 'unix',
    address,
    uid: st?.uid ?? null,
    gid: st?.gid ?? null,
    owner: st === null ? null : st.uid === p.uid ? p.owner : String(st.uid),
    group: st === null ? null : st.gid === p.gid ? p.group : String(st.gid),
    mode: st === null ? null : formatMode(st.mode & 0o7777),
    inode: Number(socket.ino),
    queued,
    backlog,
  };
}

/** Listens on a run's control socket and answers status, reload and stop. */
export class ControlServer {
  readonly #options: ControlOptions;
  readonly #server: Server;
  readonly #id: { dev: bigint; ino: bigint };
  readonly #connections = new Set<Socket>();
  #closed = false;

  private constructor(options: ControlOptions, fd: number, id: { dev: bigint; ino: bigint }) {
    this.#options = options;
    this.#id = id;
    this.#server = createServer((socket) => this.#accept(socket));
    this.#server.on('error', (error) =>
      options.logger.error(
        { event: 'control.error', path: options.path, err: error },
        `the control socket ${options.path} failed: ${error.message}`,
      ),
    );
    this.#server.listen({ fd });
  }

  /**
   * Creates the control socket at options.path (a stale one, nobody listening, is replaced) and
   * listens on it; null, with a warning, when it cannot: the run goes on without it.
   */
  static open(options: ControlOptions): ControlServer | null {
    const { path, logger, links } = options;
    const problem = clearStale(path, links);
    if (problem !== null) {
      logger.warn(
        { event: 'control.unavailable', path },
        `no control socket (status, reload and stop will not find this sockvisor): ${problem}`,
      );
      return null;
    }
    // Through the folder's descriptor, as the app's socket: a folder swapped for a symlink since
    // start cannot make sockvisor bind elsewhere.
    let folder: number | null = null;
    try {
      folder = openFolderPath(dirname(path), links);
      const own = { mode: 0o600, uid: process.geteuid!(), gid: process.getegid!(), acl: null };
      const created = bindUnixSocket(path, folder, own, 16);
      closeFd(created.pathFd);
      logger.debug({ event: 'control.listening', path }, `control socket ${path}`);
      return new ControlServer(options, created.fd, { dev: created.dev, ino: created.ino });
    } catch (error) {
      logger.warn({ event: 'control.unavailable', path, err: error }, `no control socket at ${path}: ${(error as Error).message}`);
      return null;
    } finally {
      if (folder !== null) closeFd(folder);
    }
  }

  /** Stops listening, ends every connection, and removes the file if it is still the one created. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#connections) socket.destroy();
    removeIfSameFile(this.#options.path, this.#id, this.#options.links);
  }

  #accept(socket: Socket): void {
    const refusal = this.#refusal(socket);
    if (refusal !== null) {
      socket.end(answerLine({ ok: false, code: 'EACCES', error: refusal }));
      return;
    }
    this.#connections.add(socket);
    socket.on('close', () => this.#connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.#answer(socket, line);
      }
      if (buffered.length > MAX_REQUEST_BYTES)
        socket.end(answerLine({ ok: false, code: 'EBADREQ', error: 'the request line is too long' }));
    });
  }

  /** null when the peer may ask: root or sockvisor's own user; else the sentence it gets. */
  #refusal(socket: Socket): string | null {
    // Node keeps the accepted descriptor on its handle and has no API for SO_PEERCRED.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const euid = process.geteuid!();
    try {
      if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor');
      const peer = peerCredentials(fd);
      if (peer.uid === 0 || peer.uid === euid) return null;
      this.#options.logger.warn(
        { event: 'control.refused', path: this.#options.path, uid: peer.uid, pid: peer.pid },
        `refused a control request from uid ${peer.uid} (pid ${peer.pid}): only root and uid ${euid} may ask`,
      );
      return `permission denied: only root and uid ${euid} may ask this sockvisor`;
    } catch {
      return 'permission denied: the peer could not be identified';
    }
  }

  #answer(socket: Socket, line: string): void {
    const request = parseRequest(line);
    if (typeof request === 'string') return void socket.write(answerLine({ ok: false, code: 'EBADREQ', error: request }));
    this.#options.logger.debug({ event: 'control.request', command: request.command }, `control request: ${request.command}`);
    this.#perform(socket, request);
  }

  #perform(socket: Socket, request: ControlRequest): void {
    const { supervisor } = this.#options;
    switch (request.command) {
      case 'status':
        socket.write(answerLine(this.status()));
        return;
      case 'stop':
        // The connection stays open until this process exits (the kernel closes it then): the
        // client waits for that, whatever pid namespace it sees sockvisor in. Unref'd, it keeps
        // nothing alive, and close() leaves it alone.
        this.#connections.delete(socket);
        socket.unref();
        socket.write(answerLine({ ok: true, command: 'stop', pid: process.pid }));
        supervisor.stop('stop asked on the control socket');
        return;
      case 'reload':
        this.#reload(socket);
        return;
    }
  }

  /** What `sockvisor status` shows. */
  status(): ControlAnswer {
    const { supervisor, stats, sockets } = this.#options;
    return {
      ok: true,
      pid: process.pid,
      version: VERSION,
      uptimeMs: Date.now() - stats.startedAt,
      supervisor: supervisor.status,
      stats: stats.snapshot(),
      sockets: sockets().map(socketStatus),
    };
  }

  /** Asks for a handover and answers once it is settled: done, or abandoned with its sentence. */
  #reload(socket: Socket): void {
    const { supervisor, stats } = this.#options;
    const follow = followReload(stats);
    supervisor.reload('reload asked on the control socket');
    let off = (): void => {};
    off = follow.seal((answer) => {
      off();
      if (!socket.destroyed) socket.write(answerLine(answer));
    });
    socket.once('close', () => off());
  }
}

/** Follows the entries of one reload until its outcome; seal() is called once supervisor.reload() has returned. */
function followReload(stats: RunStats): { seal(settle: (answer: ControlAnswer) => void): () => void } {
  let sealed = false;
  let asked = false;
  /** outcomes of handovers that were under way before this one (a reload during a handover is queued) */
  let skip = 0;
  /** no child ran: the reload started one; its readiness or exit is the outcome */
  let startNow = false;
  let startedGeneration: number | null = null;
  let settle: ((answer: ControlAnswer) => void) | null = null;
  let outcome: ControlAnswer | null = null;

  const decide = (entry: LogEntry): ControlAnswer | null => {
    switch (entry.what) {
      case 'reload':
        if (!sealed) asked = true;
        return null;
      case 'queued':
        if (!sealed) skip++;
        return null;
      case 'start-now':
        if (!sealed) startNow = true;
        return null;
      case 'started':
        if (startNow && startedGeneration === null && entry.role === 'current') startedGeneration = entry.generation;
        return null;
      case 'ready':
        return startNow && entry.generation === startedGeneration ? done(`child ${entry.pid} is ready`, entry.generation) : null;
      case 'exited':
        if (!startNow || entry.generation !== startedGeneration) return null;
        return { ok: false, code: 'EABANDONED', error: `the new child ${entry.pid} exited before it was ready` };
      case 'spawn-failed':
        return startNow
          ? { ok: false, code: 'EFAILED', error: `the new child could not be started: ${(entry.error as Error).message}` }
          : null;
      case 'handed-over':
      case 'took-over-early':
      case 'handover-failed':
      case 'candidate-spawn-failed': {
        if (startNow) return null;
        if (skip > 0) return (void skip--, null);
        const last = stats.snapshot().handovers.last;
        if (last?.result === 'done') return done(last.reason, last.generation, last.durationMs);
        return { ok: false, code: 'EABANDONED', error: last?.reason ?? 'handover abandoned' };
      }
      case 'stopping':
        return { ok: false, code: 'ESTOPPING', error: 'sockvisor began to stop before the new child was ready' };
      default:
        return null;
    }
  };
  const off = stats.onEntry((entry) => {
    if (outcome !== null) return;
    outcome = decide(entry);
    if (outcome !== null && settle !== null) settle(outcome);
  });
  return {
    seal(callback) {
      sealed = true;
      if (!asked) {
        off();
        callback({ ok: false, code: 'ESTOPPING', error: 'sockvisor is stopping: there is nothing to reload' });
        return () => {};
      }
      if (outcome !== null) {
        off();
        callback(outcome);
        return () => {};
      }
      settle = callback;
      return off;
    },
  };
}

function done(message: string, generation: number | null, durationMs: number | null = null): ControlAnswer {
  return { ok: true, command: 'reload', result: 'done', message, generation, durationMs };
}

function answerLine(answer: ControlAnswer): string {
  return `${JSON.stringify(answer)}\n`;
}

/** null when path is free (a stale socket, nobody listening, was removed); else why it cannot be used. */
function clearStale(path: string, links: FolderLinks): string | null {
  const st = lstatOrNull(path);
  if (st === null) return null;
  if (!st.isSocket()) return `${path} exists and is no socket; sockvisor leaves it alone: move it away`;
  const listening = probeListening(path);
  if (listening.state === 'live') return `another process listens on ${path} (another sockvisor on the same socket?)`;
  if (listening.state === 'unknown') return `it cannot be told whether anyone listens on ${path} (${listening.code})`;
  // Only the very file found stale is removed, through the folder's descriptor.
  if (!removeIfSameFile(path, { dev: st.dev, ino: st.ino }, links)) return `the stale socket ${path} could not be removed`;
  return null;
}
