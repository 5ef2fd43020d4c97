// One running child: spawned through the addon, watched through its pidfd.
import { constants } from 'node:os';
import { ExitCode, RunError } from '../errors.js';
import { spawn, watchChild, type ChildWatch, type NativeError, type SpawnedProcess, type SpawnRequest } from '../native.js';
import type { ExitStatus } from './exit.js';

/**
 * Everything needed to start the child, resolved: the same for every restart. A spawn request
 * without the two settings every child gets (startChild sets them), and always with a folder.
 */
export type ChildPlan = Omit<SpawnRequest, 'pdeathsig' | 'processGroup' | 'cwd'> & { cwd: string };

export interface ChildExit extends ExitStatus {
  uptimeMs: number;
}

/** A started child. */
export interface RunningChild {
  pid: number;
  /** null when sent, else the errno code (ESRCH: already gone) */
  signal(signo: number): string | null;
  /** the child's whole process group (its workers too) */
  signalGroup(signo: number): string | null;
}

export interface ChildCallbacks {
  /** sees the child (pid and pidfd) before anything else runs, e.g. to hand it to sockvisor-guard */
  onSpawned?: ((spawned: SpawnedProcess) => void) | undefined;
  /**
   * Called once the child has been reaped, in the same turn (no promise in between): what follows an
   * exit, a restart, starts no later than it must.
   */
  onExit(exit: ChildExit): void;
}

/** Starts the child; exec failures become RunErrors with exit 126/127 and a sentence. */
export function startChild(plan: ChildPlan, callbacks: ChildCallbacks): RunningChild {
  const startedAt = performance.now();
  let spawned;
  try {
    // uid, gid and groups left undefined are skipped by the addon (native/spawn.cc ReadPlan), as if absent.
    // SIGKILL: the one signal uWSGI cannot turn into a reload (SIGTERM reloads it).
    spawned = spawn({ ...plan, pdeathsig: constants.signals.SIGKILL, processGroup: true });
  } catch (error) {
    throw explainSpawnError(error as NativeError, plan);
  }
  callbacks.onSpawned?.(spawned);
  const watch: ChildWatch = watchChild(spawned, (exit) => {
    callbacks.onExit({ code: exit.code, signal: exit.signal, uptimeMs: performance.now() - startedAt });
  });
  return {
    pid: spawned.pid,
    signal: (signo) => watch.signal(signo),
    signalGroup: (signo) => watch.signalGroup(signo),
  };
}

function explainSpawnError(error: NativeError, plan: ChildPlan): RunError {
  const file = plan.file;
  switch (error.syscall) {
    case 'execve':
      if (error.code === 'ENOENT') {
        return new RunError(
          `The command '${file}' could not be executed: it or its interpreter (#! line) does not exist.`,
          ExitCode.notFound,
          { cause: error },
        );
      }
      if (error.code === 'ENOEXEC') {
        return new RunError(
          `The command '${file}' could not be executed (ENOEXEC): it is not a program this machine can run; a script needs a #! line, a binary must be built for this machine.`,
          ExitCode.notExecutable,
          { cause: error },
        );
      }
      return new RunError(
        `The command '${file}' could not be executed (${error.code}): check its permissions, and that its file system is not mounted noexec.`,
        ExitCode.notExecutable,
        {
          cause: error,
        },
      );
    case 'setuid':
    case 'setgid':
    case 'setgroups':
      return new RunError(
        `Cannot switch to the user or group for '${file}' (${error.syscall}: ${error.code}): only root can run the child as another user.`,
        ExitCode.notExecutable,
        {
          cause: error,
        },
      );
    case 'chdir':
      return new RunError(`Cannot enter the folder '${plan.cwd}' to start '${file}' (${error.code}).`, ExitCode.notExecutable, {
        cause: error,
      });
    default:
      return new RunError(`Cannot start '${file}' (${error.syscall}: ${error.code}).`, ExitCode.notExecutable, { cause: error });
  }
}
