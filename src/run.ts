// `sockvisor run` as a library function: create the sockets, supervise, clean up, return the status.
import type { Logger } from 'pino';
import { childEnvironment } from './child/environment.js';
import type { ChildPlan } from './child/process.js';
import type { RunPlan } from './config/run-config.js';
import { describeStop } from './config/run-config.js';
import { createSockets, removeSocket, type HeldSocket } from './socket/create.js';
import { formatMode } from './socket/mode.js';
import { Containment } from './supervisor/containment.js';
import { installSignalHandlers } from './supervisor/signals.js';
import { Supervisor } from './supervisor/supervisor.js';

/** The child's fd layout: stdio then the sockets from 3 on, or the one socket as stdin. */
function childFds(plan: RunPlan, held: HeldSocket[]): number[] {
  if (plan.pass === 'stdin') return [held[0]!.fd, 1, 2];
  return [0, 1, 2, ...held.map((s) => s.fd)];
}

function childPlan(plan: RunPlan, held: HeldSocket[], env: NodeJS.ProcessEnv): ChildPlan {
  const socketNames = plan.pass === 'fd' ? held.map((s) => s.spec.name) : [];
  return {
    file: plan.command.file,
    argv: plan.command.argv,
    envp: childEnvironment(env, { socketNames, user: plan.childUser }),
    fds: childFds(plan, held),
    listenPid: plan.pass === 'fd',
    uid: plan.childUser?.uid,
    gid: plan.childUser?.gid,
    groups: plan.childUser?.groups,
    cwd: plan.cwd,
  };
}

/** Runs until the child is stopped for good; returns sockvisor's exit status. Sockets are removed on the way out. */
export async function runSockvisor(plan: RunPlan, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  for (const warning of plan.warnings) logger.warn({ event: 'config.warning' }, warning);
  const held = createSockets(plan.sockets, plan.permissions, plan.backlog);
  for (const socket of held) {
    logger.info(
      {
        event: 'socket.created',
        name: socket.spec.name,
        path: socket.spec.path,
        mode: formatMode(socket.permissions.mode),
        owner: socket.permissions.owner,
        group: socket.permissions.group,
        uid: socket.permissions.uid,
        gid: socket.permissions.gid,
        backlog: socket.backlog,
      },
      `holding ${socket.spec.path} (${formatMode(socket.permissions.mode)} ${socket.permissions.owner}:${socket.permissions.group}, backlog ${socket.backlog})`,
    );
  }
  const containment = Containment.start(logger);
  const supervisor = new Supervisor({
    child: childPlan(plan, held, env),
    restart: plan.restart,
    stopSignal: plan.stopSignal,
    stopTimeoutMs: plan.stopTimeoutMs,
    logger,
    containment,
  });
  logger.debug({ event: 'supervisor.config', stop: describeStop(plan), restart: plan.restart }, 'supervision settings');
  const removeHandlers = installSignalHandlers(supervisor);
  try {
    supervisor.start();
    return await supervisor.done;
  } finally {
    removeHandlers();
    await containment.close();
    for (const socket of held) {
      const removed = removeSocket(socket);
      logger.info({ event: 'socket.removed', path: socket.spec.path, removed }, removed ? `removed ${socket.spec.path}` : `left ${socket.spec.path}: it is no longer the socket sockvisor created`);
    }
  }
}
