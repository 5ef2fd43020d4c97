// `sockvisor run` as a library function: create the sockets, supervise, clean up, return the status.
import type { Logger } from 'pino';
import { childEnvironment } from './child/environment.js';
import type { ChildPlan } from './child/process.js';
import type { RunPlan } from './config/run-config.js';
import { describeHandover, describeStop } from './config/run-config.js';
import { closeHeldSocket, createSockets, removeSocket, type HeldSocket, type HeldUnixSocket } from './socket/create.js';
import { SocketHealer } from './socket/healer.js';
import { formatAclEntry } from './socket/acl.js';
import { formatMode } from './socket/mode.js';
import { ProbeServer } from './probes/server.js';
import { describePermissions, fileMode } from './socket/permissions.js';
import { describeHeldSocket } from './socket/spec.js';
import { HealthChecker } from './health/checker.js';
import { probe, probeBytes, type ProbeTarget } from './health/probe.js';
import { QueueWatch } from './health/queue-watch.js';
import { unixListenQueue } from './native.js';
import { controlSocketPath } from './control/paths.js';
import { ControlServer } from './control/server.js';
import { RunStats } from './control/stats.js';
import { serveMetrics } from './metrics/metrics.js';
import { Containment } from './containment/containment.js';
import { installSignalHandlers } from './supervisor/signals.js';
import { ChildSupervisor } from './supervisor/child-supervisor.js';
import { SystemdNotifier } from './systemd/notify.js';

/** The child's fd layout: stdio then the sockets from 3 on, or the one socket as stdin. */
function childFds(plan: RunPlan, held: HeldSocket[]): number[] {
  if (plan.pass === 'stdin') return [held[0]!.fd, 1, 2];
  return [0, 1, 2, ...held.map((s) => s.fd)];
}

function childPlan(plan: RunPlan, held: HeldSocket[], env: NodeJS.ProcessEnv): ChildPlan {
  const socketNames = plan.listenFds ? held.map((s) => s.spec.name) : [];
  return {
    file: plan.command.file,
    argv: plan.command.argv,
    envp: childEnvironment(env, { socketNames, user: plan.childUser }),
    fds: childFds(plan, held),
    listenPid: plan.listenFds,
    uid: plan.childUser?.uid,
    gid: plan.childUser?.gid,
    groups: plan.childUser?.groups,
    cwd: plan.cwd,
  };
}

/** One record per socket held: fields for machines, a sentence for people. */
function logHeldSocket(logger: Logger, socket: HeldSocket): void {
  if (socket.kind === 'tcp') {
    const address = describeHeldSocket(socket);
    logger.info(
      { event: 'socket.created', name: socket.spec.name, kind: 'tcp', address, port: socket.port, backlog: socket.backlog },
      `holding ${address} (TCP, backlog ${socket.backlog})`,
    );
    return;
  }
  const { permissions: p, spec } = socket;
  logger.info(
    {
      event: 'socket.created',
      name: spec.name,
      kind: 'unix',
      path: spec.path,
      mode: formatMode(p.mode),
      owner: p.owner,
      group: p.group,
      uid: p.uid,
      gid: p.gid,
      ...(p.acl ? { acl: p.acl.map(formatAclEntry), fileMode: formatMode(fileMode(p)) } : {}),
      backlog: socket.backlog,
    },
    `holding ${spec.path} (${describePermissions(p)}, backlog ${socket.backlog})`,
  );
}

function releaseSockets(held: HeldSocket[], logger: Logger): void {
  for (const socket of held) {
    const removed = removeSocket(socket);
    const where = describeHeldSocket(socket);
    const msg =
      socket.kind === 'tcp'
        ? `closed ${where}`
        : removed
          ? `removed ${where}`
          : `left ${where}: it is no longer the socket sockvisor created`;
    logger.info({ event: 'socket.removed', name: socket.spec.name, path: where, removed }, msg);
  }
}

/** Where the health check connects for a held socket: its path, or its address (a wildcard one on loopback). */
function probeTarget(socket: HeldSocket): ProbeTarget {
  if (socket.kind === 'unix') return { path: socket.spec.path };
  const { address } = socket.spec;
  return { host: address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address, port: socket.port };
}

/** The health check of the first socket (when on) and the accept-queue watch of every unix socket; closed when the run is done. */
function startWatches(plan: RunPlan, held: HeldSocket[], supervisor: ChildSupervisor, logger: Logger): () => void {
  const queues = QueueWatch.start({
    sockets: () => held.flatMap((s) => (s.kind === 'unix' ? [{ fd: s.fd, path: s.spec.path }] : [])),
    read: unixListenQueue,
    pid: () => supervisor.status.pid,
    logger,
  });
  const { health } = plan;
  if (!health) return () => queues.close();
  const bytes = probeBytes(health);
  const what = `${health.protocol}:${health.path} on ${describeHeldSocket(held[0]!)}`;
  const checker = HealthChecker.start({
    ...health,
    what,
    // held[0] read at each probe: the healer may have made the socket anew.
    probe: () => probe(probeTarget(held[0]!), bytes, health.timeoutMs),
    readyPid: () => {
      const { phase, pid } = supervisor.status;
      return phase === 'ready' ? pid : null;
    },
    replace: (reason) => supervisor.reload(reason),
    logger,
  });
  logger.info(
    { event: 'health.config', target: what, intervalMs: health.intervalMs, timeoutMs: health.timeoutMs, failures: health.failures },
    `health check: ${what} every ${health.intervalMs / 1000} s, ${health.timeoutMs / 1000} s for an answer, ` +
      `the child replaced after ${health.failures} failures in a row`,
  );
  return () => {
    checker.close();
    queues.close();
  };
}

/** A run prepared: its sockets are held, its supervisor made; start() starts the first child. */
export interface Run {
  supervisor: ChildSupervisor;
  /** what the run has done: generations, exits, handovers, repairs (status, metrics) */
  stats: RunStats;
  sockets: HeldSocket[];
  /** starts the first child; an exec failure throws (exit 126/127) with the sockets removed */
  start(): void;
  /** sockvisor's exit status, once the child is stopped for good and the sockets are removed */
  done: Promise<number>;
}

export interface CreateRunOptions {
  /**
   * Make this process a child subreaper and reap every orphan below it (default true). Only for a
   * process that starts nothing through Node's child_process: see containment/reaper.ts.
   */
  reapOrphans?: boolean;
}

/** Creates the sockets and the supervisor of a run; nothing is started yet. */
export function createRun(plan: RunPlan, logger: Logger, env: NodeJS.ProcessEnv = process.env, options: CreateRunOptions = {}): Run {
  for (const warning of plan.warnings) logger.warn({ event: 'config.warning' }, warning);
  const held = createSockets(plan.sockets, plan.permissions, plan.backlog);
  for (const socket of held) logHeldSocket(logger, socket);
  const systemd = SystemdNotifier.fromEnv(env, logger);
  const containment = Containment.start(logger, { reapOrphans: options.reapOrphans ?? true });
  let healer: SocketHealer | null = null;
  let stopWatches: (() => void) | null = null;
  let control: ControlServer | null = null;
  let metrics: { close: () => void } | null = null;
  const stats = new RunStats();
  const supervisor = new ChildSupervisor({
    child: childPlan(plan, held, env),
    restart: plan.restart,
    stopSignal: plan.stopSignal,
    stopTimeoutMs: plan.stopTimeoutMs,
    drainSignal: plan.drainSignal,
    readyAfterMs: plan.readyAfterMs,
    handoverTimeoutMs: plan.handoverTimeoutMs,
    logger,
    containment,
    onLog: (entry) => stats.record(entry),
    ...(systemd ? { onStatus: (status) => systemd.update(status) } : {}),
  });
  logger.debug(
    { event: 'supervisor.config', stop: describeStop(plan), handover: describeHandover(plan), restart: plan.restart },
    'supervision settings',
  );
  // A socket made anew at its path (the old one had no name left): the children move to it, at the
  // same fd number, and sockvisor's copy of the old one is closed once no child uses it.
  const onReplaced = (index: number, fresh: HeldUnixSocket, old: HeldUnixSocket): void => {
    held[index] = fresh;
    supervisor.replacePlan(childPlan(plan, held, env), `the socket ${fresh.spec.path} was made anew`);
    void supervisor.whenFdUnused(old.fd).then(() => {
      closeHeldSocket(old);
      logger.info(
        { event: 'socket.closed-old', path: old.spec.path, inode: Number(old.ino) },
        `closed the old socket of ${old.spec.path} (inode ${old.ino}): no child uses it any more`,
      );
    });
  };
  return {
    supervisor,
    stats,
    sockets: held,
    start() {
      try {
        supervisor.start();
      } catch (error) {
        void containment.close();
        systemd?.close();
        releaseSockets(held, logger);
        throw error;
      }
      // Watched from the first child on: a socket removed or changed by hand is put right at once.
      healer = SocketHealer.start(held, {
        logger,
        isActive: () => supervisor.status.phase !== 'stopping',
        onReplaced,
        onRepair: (action) => stats.recordRepair(action),
      });
      stopWatches = startWatches(plan, held, supervisor, logger);
      // Next to the first unix socket, in the folder its path checks trusted; none for TCP alone.
      const first = held.find((s): s is HeldUnixSocket => s.kind === 'unix');
      if (first)
        control = ControlServer.open({
          path: controlSocketPath(first.spec.path),
          links: first.links,
          supervisor,
          stats,
          sockets: () => held,
          logger,
        });
      if (plan.metrics) metrics = serveMetrics(plan.metrics, { supervisor, stats, sockets: () => held }, logger);
    },
    // The sockets go last: only once nothing of any child is left that could still accept on them.
    // The healer goes first: the removal of the sockets on stop is no damage to repair.
    done: supervisor.done.finally(async () => {
      control?.close();
      metrics?.close();
      stopWatches?.();
      healer?.close();
      await containment.close();
      systemd?.close();
      releaseSockets(held, logger);
    }),
  };
}

/**
 * Starts a run's first child; with handleSignals, this process's stop and job signals go to it
 * until it is done (installed before the child exists: a stop signal from then on must stop it,
 * not kill sockvisor). Resolves with the exit status.
 */
export function startRun(run: Run, handleSignals: boolean): Promise<number> {
  const removeHandlers = handleSignals ? installSignalHandlers(run.supervisor) : () => {};
  try {
    run.start();
  } catch (error) {
    removeHandlers();
    throw error;
  }
  return run.done.finally(removeHandlers);
}

/** `sockvisor run`: runs until the child is stopped for good, with process signals routed to it; returns the exit status. */
export async function runSockvisor(plan: RunPlan, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // --probe listens first: a port already taken is refused before any socket is created.
  const probes = plan.probe ? await ProbeServer.listen(plan.probe, logger) : null;
  try {
    const run = createRun(plan, logger, env, { reapOrphans: true });
    probes?.follow(() => run.supervisor.status);
    return await startRun(run, true);
  } finally {
    await probes?.close();
  }
}
