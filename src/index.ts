// sockvisor as a library: `import { Supervisor, createUnixSocket } from 'sockvisor'`.
// A thin facade over the modules the CLI uses (config/run-config.ts to check and resolve options,
// run.ts to hold the sockets and supervise, socket/ to create a socket safely). It logs only to the
// pino logger it is given (none: silent), never to the console, and installs no process signal
// handlers unless asked to.
import pino, { type Logger } from 'pino';
import type { SockvisorOptions } from './config/options.js';
import { planRun, type RunPlan } from './config/run-config.js';
import { parseSignal } from './child/exit.js';
import { UsageError } from './errors.js';
import { createRun, startRun, type Run } from './run.js';
import { createSocket, defaultBacklog, removeSocket, type HeldUnixSocket } from './socket/create.js';
import { currentIdentity } from './socket/identity.js';
import { formatMode } from './socket/mode.js';
import { resolveSocketPermissions } from './socket/permissions.js';
import { preflightSocket } from './socket/preflight.js';
import { describeHeldSocket, parseSocketSpec } from './socket/spec.js';

export { ExitCode, RunError, UsageError } from './errors.js';
export type { SockvisorOptions } from './config/options.js';

/** Options of a Supervisor: those of `sockvisor run` (camelCase), COMMAND, and where it runs. */
export interface SupervisorOptions extends Omit<SockvisorOptions, 'logFormat' | 'logLevel'> {
  /** COMMAND and its ARGS, e.g. ['uwsgi', '--ini', 'app.ini'] */
  command: string[];
  /** where records go; none: nothing is logged */
  logger?: Logger | undefined;
  /** working folder for relative paths and the child (default process.cwd()) */
  cwd?: string | undefined;
  /** environment of the child, and of uWSGI's configuration (default process.env) */
  env?: NodeJS.ProcessEnv | undefined;
  /** route this process's SIGTERM/SIGINT/SIGQUIT (stop) and SIGHUP/SIGUSR1/... (forwarded) as the CLI does (default false) */
  handleSignals?: boolean | undefined;
}

/** A socket a Supervisor holds. */
export interface HeldSocketInfo {
  name: string;
  fd: number;
  /** a unix socket's path */
  path?: string;
  /** a TCP socket's address, e.g. 127.0.0.1:8080 */
  address?: string;
}

/**
 * Holds sockets and supervises a server on them, exactly as `sockvisor run` does. The constructor
 * checks and resolves every option (throwing UsageError, exit status 2, or RunError for a COMMAND
 * that cannot run) before anything is created; start() creates the sockets and starts the child.
 */
export class Supervisor {
  readonly #plan: RunPlan;
  readonly #logger: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly #handleSignals: boolean;
  #run: Run | null = null;
  #resolveDone!: (status: number) => void;
  /** the exit status sockvisor would exit with, once the child is stopped for good and the sockets are removed */
  readonly done: Promise<number>;

  constructor(options: SupervisorOptions) {
    const { logger, cwd, env, handleSignals, ...runOptions } = options;
    this.#logger = logger ?? pino({ enabled: false });
    this.#env = env ?? process.env;
    this.#handleSignals = handleSignals ?? false;
    // The probe server listens before any socket is made, which start() (synchronous) cannot wait for.
    if (runOptions.probe !== undefined) {
      throw new UsageError('The probe option is for the sockvisor command (--probe HOST:PORT): leave it out of new Supervisor().');
    }
    this.#plan = planRun(runOptions, { cwd: cwd ?? process.cwd(), env: this.#env });
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Creates the sockets and starts the first child; throws RunError (126/127) if it cannot be executed. */
  start(): void {
    if (this.#run) throw new Error('Supervisor.start() called twice');
    // Reaping orphans would steal the exits of a host's own child_process children: only a
    // process that is the supervisor and nothing else (handleSignals) does it.
    this.#run = createRun(this.#plan, this.#logger, this.#env, { reapOrphans: this.#handleSignals });
    void startRun(this.#run, this.#handleSignals).then(this.#resolveDone);
  }

  /** Stops the child (the stop signal, then SIGKILL to its group after the stop timeout), removes the sockets; resolves with the exit status. */
  stop(reason = 'stop requested'): Promise<number> {
    if (!this.#run) throw new Error('Supervisor.stop() before start()');
    this.#run.supervisor.stop(reason);
    return this.done;
  }

  /** Passes a signal on to the running child (e.g. SIGHUP: uWSGI's graceful reload). */
  signal(signal: NodeJS.Signals | number): void {
    if (!this.#run) throw new Error('Supervisor.signal() before start()');
    const signo = parseSignal(signal);
    if (signo === null) throw new UsageError(`'${signal}' is not a signal: give a name like SIGHUP, or a number.`);
    this.#run.supervisor.forward(signo);
  }

  /** The running child's pid, null between two children or before start(). */
  get pid(): number | null {
    return this.#run?.supervisor.childPid ?? null;
  }

  /** The sockets held, with their fds in this process (empty before start()). */
  get sockets(): HeldSocketInfo[] {
    return (this.#run?.sockets ?? []).map((s) =>
      s.kind === 'unix'
        ? { name: s.spec.name, fd: s.fd, path: s.spec.path }
        : { name: s.spec.name, fd: s.fd, address: describeHeldSocket(s) },
    );
  }
}

/** What createUnixSocket makes: mode, owner and group as asked, listening. */
export interface UnixSocketOptions {
  path: string;
  /** octal as chmod reads it ('0660', '660'), symbolic ('u=rw,g=rw'), or a number (0o660); default 0660 */
  mode?: string | number | undefined;
  /** USER or USER:GROUP, names or numbers; default: this process's user */
  owner?: string | undefined;
  /** GROUP alone; default: the owner's group (as root with no owner: nginx's group) */
  group?: string | undefined;
  /** listen backlog; default /proc/sys/net/core/somaxconn */
  backlog?: number | undefined;
  /** for a relative path (default process.cwd()) */
  cwd?: string | undefined;
}

/** A listening unix socket made by createUnixSocket. */
export interface UnixSocket {
  readonly path: string;
  /** close-on-exec; give it to a child as fd 3, or to net.Server#listen({ fd }) */
  readonly fd: number;
  /** '0660' */
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
  /** closes the fd and removes the file if it is still the one created; false when it was left */
  close(): boolean;
}

/**
 * Creates a listening unix socket at exactly `path` with the owner, group and mode asked for, never
 * wider than those at any moment (born 0000, then chown and chmod); missing parent folders are
 * made 0755. Refuses (UsageError) a path holding anything but a stale socket, or a live one.
 */
export function createUnixSocket(options: UnixSocketOptions): UnixSocket {
  const spec = parseSocketSpec(options.path, 0, options.cwd ?? process.cwd(), 'path');
  if (spec.kind !== 'unix') throw new UsageError(`'${options.path}' is a TCP address; createUnixSocket takes a file path.`);
  const mode = typeof options.mode === 'number' ? formatMode(options.mode) : options.mode;
  const permissions = resolveSocketPermissions(
    { socketMode: mode, socketOwner: options.owner, socketGroup: options.group },
    {},
    currentIdentity(),
  );
  const backlog = options.backlog ?? defaultBacklog();
  const held = createSocket(preflightSocket(spec), permissions, backlog) as HeldUnixSocket;
  return {
    path: held.spec.path,
    fd: held.fd,
    mode: formatMode(permissions.mode),
    uid: permissions.uid,
    gid: permissions.gid,
    close: () => removeSocket(held),
  };
}
