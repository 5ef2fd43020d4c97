// Who serves, who is about to, and who is on the way out: the handover lifecycle as pure state
// transitions (no timers, no processes), so every interleaving can be unit-tested.
//
// A reload starts a candidate generation next to the current one. Only when the candidate is
// ready does it become current; the old one then retires (a graceful stop: in-flight requests
// finish). A candidate that exits or is not ready in time is dropped and the current one keeps
// serving. Retiring generations and dropped candidates never reach the restart policy: their exit
// was asked for. When the current one dies during a handover, the candidate takes over at once
// (connections wait in the held socket's backlog until it is ready) instead of a restart.

export interface HandoverState {
  /** the generation that serves (or is starting to); null between a crash and its restart */
  readonly current: number | null;
  /** the generation started by a reload, not yet ready */
  readonly candidate: number | null;
  /** generations asked to stop; their exits are expected */
  readonly retiring: readonly number[];
  /** a reload asked for while one was in progress: started once that one is settled */
  readonly pending: boolean;
}

export type HandoverEvent =
  | { type: 'reload' }
  /** a generation started to serve: the first one, or one the restart policy started */
  | { type: 'started'; generation: number }
  | { type: 'candidate-started'; generation: number }
  | { type: 'ready'; generation: number }
  | { type: 'ready-timeout'; generation: number }
  | { type: 'exited'; generation: number };

export type HandoverEffect =
  /** start the next generation next to the current one, and arm its readiness timeout */
  | { type: 'start-candidate' }
  /** nothing serves (a restart is pending): start the next generation now, as the current one */
  | { type: 'start-now' }
  /** stop this generation gracefully: it finishes its requests, accepts no new ones */
  | { type: 'retire'; generation: number }
  /** stop a candidate that was not ready in time */
  | { type: 'abort'; generation: number }
  /** the current generation exited on its own: the restart policy decides */
  | { type: 'restart-policy'; generation: number }
  | { type: 'handed-over'; from: number | null; to: number }
  | { type: 'handover-failed'; generation: number; reason: 'exited' | 'timeout' }
  /** the current generation died mid-handover; the unready candidate serves from now on */
  | { type: 'took-over-early'; from: number; to: number }
  | { type: 'reload-queued' }
  /** a retiring generation (or an aborted candidate) is gone, as asked */
  | { type: 'retired'; generation: number };

export interface HandoverStep {
  state: HandoverState;
  effects: HandoverEffect[];
}

export const initialHandoverState: HandoverState = { current: null, candidate: null, retiring: [], pending: false };

/** Whether a handover is under way. */
export function inHandover(state: HandoverState): boolean {
  return state.candidate !== null;
}

/** The generations still running or expected to exit: current, candidate and retiring. */
export function liveGenerations(state: HandoverState): number[] {
  return [state.current, state.candidate, ...state.retiring].filter((g): g is number => g !== null);
}

/** Starts the reload that was queued, if any, once no handover is under way. */
function startPending(state: HandoverState, effects: HandoverEffect[]): HandoverStep {
  if (!state.pending) return { state, effects };
  return { state: { ...state, pending: false }, effects: [...effects, { type: 'start-candidate' }] };
}

/** The next state and what to do, for one event. */
export function handoverStep(state: HandoverState, event: HandoverEvent): HandoverStep {
  switch (event.type) {
    case 'reload':
      if (state.candidate !== null) return { state: { ...state, pending: true }, effects: [{ type: 'reload-queued' }] };
      if (state.current === null) return { state, effects: [{ type: 'start-now' }] };
      return { state, effects: [{ type: 'start-candidate' }] };

    case 'started':
      return { state: { ...state, current: event.generation }, effects: [] };

    case 'candidate-started':
      return { state: { ...state, candidate: event.generation }, effects: [] };

    case 'ready': {
      if (event.generation !== state.candidate) return { state, effects: [] };
      const old = state.current;
      const next: HandoverState = {
        ...state,
        current: event.generation,
        candidate: null,
        retiring: old === null ? state.retiring : [...state.retiring, old],
      };
      const effects: HandoverEffect[] = [];
      if (old !== null) effects.push({ type: 'retire', generation: old });
      effects.push({ type: 'handed-over', from: old, to: event.generation });
      return startPending(next, effects);
    }

    case 'ready-timeout': {
      if (event.generation !== state.candidate) return { state, effects: [] };
      const next: HandoverState = { ...state, candidate: null, retiring: [...state.retiring, event.generation] };
      return startPending(next, [
        { type: 'abort', generation: event.generation },
        { type: 'handover-failed', generation: event.generation, reason: 'timeout' },
      ]);
    }

    case 'exited': {
      const g = event.generation;
      if (state.retiring.includes(g)) {
        return { state: { ...state, retiring: state.retiring.filter((r) => r !== g) }, effects: [{ type: 'retired', generation: g }] };
      }
      if (g === state.candidate) {
        return startPending({ ...state, candidate: null }, [{ type: 'handover-failed', generation: g, reason: 'exited' }]);
      }
      if (g === state.current) {
        if (state.candidate !== null) {
          const next: HandoverState = { ...state, current: state.candidate, candidate: null };
          return startPending(next, [{ type: 'took-over-early', from: g, to: state.candidate }]);
        }
        return { state: { ...state, current: null }, effects: [{ type: 'restart-policy', generation: g }] };
      }
      return { state, effects: [] };
    }
  }
}
