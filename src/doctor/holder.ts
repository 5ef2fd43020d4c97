// Whether a running sockvisor holds a socket doctor checks, and what its status says: its pid, the
// child serving, the last restart's reason. Asked on the control socket next to the path.
import { existsSync } from 'node:fs';
import { ask, ControlError, targetOf } from '../control/client.js';
import type { StatusAnswer } from '../control/protocol.js';

export interface Holder {
  /** sockvisor's pid; null when its control socket would not answer (error says why) */
  pid: number | null;
  childPid: number | null;
  generation: number | null;
  phase: string | null;
  restarts: number;
  /** the reason of the last exit that was not asked for, e.g. "was killed by SIGKILL" */
  lastCrash: { reason: string; at: number } | null;
  error?: string;
}

/** null when no control socket is next to path (no sockvisor, or one that does not hold it). */
export async function askHolder(path: string): Promise<Holder | null> {
  const target = targetOf(path);
  if (!existsSync(target.control)) return null;
  try {
    const answer = await ask(target, 'status', { timeoutMs: 2000 });
    if (!answer.ok) return { pid: null, childPid: null, generation: null, phase: null, restarts: 0, lastCrash: null, error: answer.error };
    const s = answer as StatusAnswer;
    const crash = [...s.stats.exits].reverse().find((e) => !e.expected);
    return {
      pid: s.pid,
      childPid: s.supervisor.pid,
      generation: s.supervisor.generation,
      phase: s.supervisor.phase,
      restarts: s.stats.restarts,
      lastCrash: crash ? { reason: crash.reason, at: crash.at } : null,
    };
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    return { pid: null, childPid: null, generation: null, phase: null, restarts: 0, lastCrash: null, error: error.message };
  }
}

/** The line doctor prints for it. */
export function describeHolder(h: Holder, now = Date.now()): string {
  if (h.pid === null) return `sockvisor: ${h.error ?? 'its control socket does not answer'}`;
  const child = h.childPid === null ? 'no child runs now' : `child ${h.childPid} serves (generation ${h.generation}, ${h.phase})`;
  const ago = h.lastCrash ? `${Math.max(0, Math.round((now - h.lastCrash.at) / 1000))} s ago` : '';
  const crash = h.lastCrash ? `; the last one ${h.lastCrash.reason}, ${ago}` : '';
  return `sockvisor: pid ${h.pid} holds it; ${child}; ${h.restarts} restart${h.restarts === 1 ? '' : 's'}${crash}`;
}
