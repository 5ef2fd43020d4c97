// The supervisor's lifecycle by table: each row is a state reached by events (given), more events
// (when), and the effects those must produce, in order, with the phase after them. No process,
// timer or clock is involved: these run without root, in milliseconds.
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import type { ChildExit } from '../../src/child/process.js';
import {
  initialLifecycle,
  statusPhase,
  step,
  type LifecycleEffect,
  type LifecycleEventBody,
  type LifecycleState,
  type Phase,
  type PlanFacts,
  type SupervisionSettings,
  type TimerKey,
} from '../../src/supervisor/lifecycle.js';
import { describe as describeLog, type LogEntry } from '../../src/supervisor/lifecycle-log.js';
import { defaultRestartPolicy, type RestartPolicyOptions } from '../../src/supervisor/restart-policy.js';

const { SIGTERM, SIGQUIT, SIGKILL, SIGUSR1 } = constants.signals;

const settings: SupervisionSettings = {
  restart: { ...defaultRestartPolicy },
  stopSignal: SIGTERM,
  stopTimeoutMs: 10_000,
  drainSignal: SIGQUIT,
  readyAfterMs: null,
  handoverTimeoutMs: 60_000,
};

const planA: PlanFacts = { argv: ['app'], fds: [3] };
/** the plan after a socket was made anew: the same fd number in the child, another one in sockvisor */
const planB: PlanFacts = { argv: ['app'], fds: [4] };

/** An event, or the clock moving on. */
type Input = LifecycleEventBody | { type: 'wait'; ms: number };

const start: Input = { type: 'start' };
const spawned = (generation: number): Input => ({ type: 'spawned', generation, pid: 1000 + generation });
const spawnFailed = (generation: number): Input => ({ type: 'spawn-failed', generation, error: new Error('exec failed') });
const ready = (generation: number): Input => ({ type: 'ready', generation, how: 'notified' });
const exited = (generation: number, exit: Partial<ChildExit> = {}): Input => ({
  type: 'exited',
  generation,
  exit: { code: 1, signal: null, uptimeMs: 10, ...exit },
});
/** an exit after a healthy run */
const crashed = (generation: number): Input => exited(generation, { uptimeMs: 5000 });
const fire = (key: TimerKey): Input => ({ type: 'timer', key });
const emptied = (generation: number): Input => ({ type: 'group-emptied', generation });
const reload: Input = { type: 'reload', reason: 'SIGHUP' };
const replace = (plan: PlanFacts): Input => ({ type: 'replace-plan', plan, reason: 'the socket /run/app.sock was made anew' });
const stop: Input = { type: 'stop', reason: 'SIGTERM' };
const forward: Input = { type: 'forward', signo: SIGUSR1 };
const waitFd = (id: number, fd: number): Input => ({ type: 'wait-fd', id, fd });
const wait = (ms: number): Input => ({ type: 'wait', ms });

/** Generation 1 serves, ready. */
const serving: Input[] = [start, spawned(1), ready(1)];
/** A reload started generation 2; it is not ready yet. */
const handingOver: Input[] = [...serving, reload, spawned(2)];
/** Generation 2 serves; generation 1 drains. */
const handedOver: Input[] = [...handingOver, ready(2)];
/** Generation 1 exited quickly; its restart is pending. */
const waiting: Input[] = [...serving, exited(1)];
const stopping: Input[] = [...serving, stop];

const signalNames = new Map(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** One effect as a short line; status reports are left out (see their own test). */
function show(effect: LifecycleEffect, s: SupervisionSettings): string | null {
  const sig = (n: number): string => signalNames.get(n) ?? String(n);
  switch (effect.type) {
    case 'spawn':
      return `spawn ${effect.generation} ${effect.role}${effect.plan === planB ? ' B' : ''}`;
    case 'signal':
      return `signal ${effect.generation} ${sig(effect.signo)}`;
    case 'signal-group':
      return `group ${effect.generation} ${sig(effect.signo)}`;
    case 'forward':
      return `forward ${effect.generation} ${sig(effect.signo)}`;
    case 'arm':
      return `arm ${effect.key} ${effect.ms}`;
    case 'cancel':
      return `cancel ${effect.key}`;
    case 'settle-group':
      return `settle-group ${effect.generation} ${effect.graceMs}${effect.notify ? ' notify' : ''}`;
    case 'settle-fd-waiters':
      return `fd-unused ${effect.ids.join(',')}`;
    case 'log': {
      const line = describeLog(effect.entry, s);
      return `log ${line.fields.event}${line.level === 'info' ? '' : ` ${line.level}`}`;
    }
    case 'report':
      return null;
    case 'finish':
      return `finish ${effect.status}`;
  }
}

interface Run {
  state: LifecycleState;
  effects: LifecycleEffect[];
  now: number;
}

function feed(run: Run, inputs: Input[]): Run {
  let { state, now } = run;
  const effects: LifecycleEffect[] = [];
  for (const input of inputs) {
    if (input.type === 'wait') {
      now += input.ms;
      continue;
    }
    const result = step(state, { ...input, now });
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects, now };
}

function given(inputs: Input[], restart: Partial<RestartPolicyOptions> = {}): Run {
  const s = { ...settings, restart: { ...settings.restart, ...restart } };
  return feed({ state: initialLifecycle(s, planA), effects: [], now: 0 }, inputs);
}

interface Row {
  name: string;
  given: Input[];
  when: Input[];
  effects: string[];
  phase: Phase;
  /** the status phase systemd is told, if the row is about it */
  status?: ReturnType<typeof statusPhase>;
  restart?: Partial<RestartPolicyOptions>;
}

const rows: Row[] = [
  // Starting.
  { name: 'start spawns generation 1 as the current one', given: [], when: [start], effects: ['spawn 1 current'], phase: 'idle' },
  {
    name: 'the first child started: running',
    given: [start],
    when: [spawned(1)],
    effects: ['log child.started'],
    phase: 'running',
    status: 'starting',
  },
  { name: 'the exit of a generation it does not know is ignored', given: serving, when: [exited(9)], effects: [], phase: 'running' },
  {
    name: 'the first child cannot exec: nothing is supervised (start() throws its 126/127), nothing logged twice',
    given: [start],
    when: [spawnFailed(1)],
    effects: [],
    phase: 'idle',
  },
  {
    name: 'after that, a stop is over at once',
    given: [start, spawnFailed(1)],
    when: [stop],
    effects: ['log supervisor.stopping', 'finish 0'],
    phase: 'done',
  },
  { name: 'a second start does nothing', given: serving, when: [start], effects: [], phase: 'running' },
  {
    name: 'the current child ready: no handover, nothing to do',
    given: [start, spawned(1)],
    when: [ready(1)],
    effects: ['log child.ready'],
    phase: 'running',
  },

  // The restart policy.
  {
    name: 'always: a quick exit waits the first delay; its workers get the orphan grace',
    given: serving,
    when: [exited(1)],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log child.restart', 'arm restart 50'],
    phase: 'waiting',
    status: 'restarting',
  },
  {
    name: 'the restart timer starts the next generation',
    given: waiting,
    when: [fire('restart')],
    effects: ['spawn 2 current'],
    phase: 'waiting',
  },
  {
    name: 'the restarted child runs',
    given: [...waiting, fire('restart')],
    when: [spawned(2)],
    effects: ['log child.started'],
    phase: 'running',
  },
  {
    name: 'an exit after a healthy run restarts at once, with no timer',
    given: serving,
    when: [crashed(1)],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log child.restart', 'spawn 2 current'],
    phase: 'waiting',
  },
  {
    name: 'quick exits in a row double the delay',
    given: serving,
    when: [exited(1), wait(50), fire('restart'), spawned(2), exited(2), wait(100), fire('restart'), spawned(3), exited(3)],
    effects: [
      ...['log child.exited warn', 'settle-group 1 1000', 'log child.restart', 'arm restart 50', 'spawn 2 current', 'log child.started'],
      ...['log child.exited warn', 'settle-group 2 1000', 'log child.restart', 'arm restart 100', 'spawn 3 current', 'log child.started'],
      ...['log child.exited warn', 'settle-group 3 1000', 'log child.restart', 'arm restart 200'],
    ],
    phase: 'waiting',
  },
  {
    name: 'the delay stops doubling at the maximum',
    given: serving,
    restart: { initialDelayMs: 1000, maxDelayMs: 1500, giveUpAfterMs: 0 },
    when: [exited(1), fire('restart'), spawned(2), exited(2)],
    effects: [
      ...['log child.exited warn', 'settle-group 1 1000', 'log child.restart', 'arm restart 1000', 'spawn 2 current', 'log child.started'],
      ...['log child.exited warn', 'settle-group 2 1000', 'log child.restart', 'arm restart 1500'],
    ],
    phase: 'waiting',
  },
  {
    name: 'a healthy run resets the backoff',
    given: [...serving, exited(1), fire('restart'), spawned(2), exited(2), fire('restart'), spawned(3)],
    when: [crashed(3), spawned(4), exited(4)],
    effects: [
      ...['log child.exited warn', 'settle-group 3 1000', 'log child.restart', 'spawn 4 current', 'log child.started'],
      ...['log child.exited warn', 'settle-group 4 1000', 'log child.restart', 'arm restart 50'],
    ],
    phase: 'waiting',
  },
  {
    name: 'quick exits for longer than give-up-after: giving up, exit 1',
    given: [...serving, exited(1), wait(600), fire('restart'), spawned(2)],
    restart: { giveUpAfterMs: 1000 },
    when: [wait(400), exited(2)],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'log supervisor.giving-up error', 'finish 1'],
    phase: 'done',
  },
  {
    name: 'quick exits within give-up-after still restart',
    given: [...serving, exited(1), wait(500), fire('restart'), spawned(2)],
    restart: { giveUpAfterMs: 1000 },
    when: [wait(400), exited(2)],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'log child.restart', 'arm restart 100'],
    phase: 'waiting',
  },
  {
    name: 'give-up-after 0: never gives up',
    given: [...serving, exited(1), wait(60_000), fire('restart'), spawned(2)],
    restart: { giveUpAfterMs: 0 },
    when: [wait(60_000), exited(2)],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'log child.restart', 'arm restart 100'],
    phase: 'waiting',
  },
  {
    name: 'on-failure: a clean exit ends supervision with 0',
    given: serving,
    restart: { mode: 'on-failure' },
    when: [exited(1, { code: 0 })],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log supervisor.child-done', 'finish 0'],
    phase: 'done',
  },
  {
    name: 'on-failure: a non-zero exit restarts',
    given: serving,
    restart: { mode: 'on-failure' },
    when: [exited(1, { code: 3 })],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log child.restart', 'arm restart 50'],
    phase: 'waiting',
  },
  {
    name: 'on-failure: a death by signal restarts',
    given: serving,
    restart: { mode: 'on-failure' },
    when: [exited(1, { code: null, signal: SIGKILL })],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log child.restart', 'arm restart 50'],
    phase: 'waiting',
  },
  {
    name: "never: sockvisor exits with the child's code",
    given: serving,
    restart: { mode: 'never' },
    when: [exited(1, { code: 3, uptimeMs: 5000 })],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log supervisor.child-done', 'finish 3'],
    phase: 'done',
  },
  {
    name: 'never: a child killed by signal N gives 128+N',
    given: serving,
    restart: { mode: 'never' },
    when: [exited(1, { code: null, signal: SIGKILL })],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log supervisor.child-done', 'finish 137'],
    phase: 'done',
  },
  {
    name: 'a later generation that cannot exec counts as a quick exit with 126',
    given: [...waiting, fire('restart')],
    when: [spawnFailed(2)],
    effects: ['log child.spawn-failed error', 'log child.restart', 'arm restart 100'],
    phase: 'waiting',
  },
  // Stopping.
  {
    name: 'a stop sends the stop signal and arms its SIGKILL',
    given: serving,
    when: [stop],
    effects: ['log supervisor.stopping', 'signal 1 SIGTERM', 'log child.stop-signal', 'arm kill:1 10000'],
    phase: 'stopping',
    status: 'stopping',
  },
  {
    name: 'the stopped child exits: no restart; its group is emptied at once',
    given: stopping,
    when: [exited(1, { code: 0 })],
    effects: ['log child.exited', 'cancel kill:1', 'settle-group 1 0 notify'],
    phase: 'stopping',
  },
  { name: 'its group emptied: done with 0', given: [...stopping, exited(1)], when: [emptied(1)], effects: ['finish 0'], phase: 'done' },
  {
    name: 'a second stop request kills the groups at once',
    given: stopping,
    when: [{ type: 'stop', reason: 'SIGINT' }],
    effects: ['log supervisor.escalate warn', 'group 1 SIGKILL'],
    phase: 'stopping',
  },
  {
    name: 'the stop timeout: SIGKILL to the group',
    given: stopping,
    when: [wait(10_000), fire('kill:1')],
    effects: ['log child.stop-timeout warn', 'group 1 SIGKILL'],
    phase: 'stopping',
  },
  {
    name: 'a stop during the restart wait: the restart is cancelled, done at once',
    given: waiting,
    when: [stop],
    effects: ['cancel restart', 'log supervisor.stopping', 'finish 0'],
    phase: 'done',
  },
  {
    name: 'a cancelled restart timer firing late: nothing',
    given: [...waiting, stop],
    when: [fire('restart')],
    effects: [],
    phase: 'done',
  },
  { name: 'a stop once done does nothing', given: [...waiting, stop], when: [stop], effects: [], phase: 'done' },
  {
    name: 'a stop during a handover stops both the current child and the candidate',
    given: handingOver,
    when: [stop],
    effects: [
      'cancel handover',
      'log supervisor.stopping',
      ...['signal 1 SIGTERM', 'log child.stop-signal', 'arm kill:1 10000'],
      ...['signal 2 SIGTERM', 'log child.stop-signal', 'arm kill:2 10000'],
    ],
    phase: 'stopping',
  },
  {
    name: 'stopped during a handover: the candidate becoming ready changes nothing; done after the last group is empty',
    given: [...handingOver, stop],
    when: [ready(2), exited(2), exited(1), emptied(1)],
    effects: [
      'log child.ready',
      ...['log child.exited', 'cancel kill:2', 'settle-group 2 0'],
      ...['log child.exited', 'cancel kill:1', 'settle-group 1 0 notify'],
      'finish 0',
    ],
    phase: 'done',
  },
  {
    name: 'a stop while an old child drains: only the current one gets the stop signal; the old one keeps its drain timer',
    given: handedOver,
    when: [stop, fire('kill:1')],
    effects: [
      ...['log supervisor.stopping', 'signal 2 SIGTERM', 'log child.stop-signal', 'arm kill:2 10000'],
      ...['log child.drain-timeout warn', 'group 1 SIGKILL'],
    ],
    phase: 'stopping',
  },
  { name: 'a reload while stopping does nothing', given: stopping, when: [reload], effects: [], phase: 'stopping' },
  { name: 'a signal to forward while stopping goes nowhere', given: stopping, when: [forward], effects: [], phase: 'stopping' },

  // Handovers.
  {
    name: 'a reload starts a candidate next to the current child',
    given: serving,
    when: [reload, spawned(2)],
    effects: ['log supervisor.reload', 'spawn 2 candidate', 'log child.started', 'arm handover 60000'],
    phase: 'running',
    status: 'reloading',
  },
  {
    name: 'the candidate ready: the old child drains, the candidate serves',
    given: handingOver,
    when: [ready(2)],
    effects: ['log child.ready', 'signal 1 SIGQUIT', 'log child.drain-signal', 'arm kill:1 10000', 'cancel handover', 'log handover.done'],
    phase: 'running',
    status: 'ready',
  },
  {
    name: 'the retiring child exits as asked: no restart',
    given: handedOver,
    when: [exited(1, { code: 0 })],
    effects: ['log child.exited', 'cancel kill:1', 'settle-group 1 1000', 'log handover.retired'],
    phase: 'running',
  },
  {
    name: 'the retiring child does not finish in time: SIGKILL to its group',
    given: handedOver,
    when: [fire('kill:1')],
    effects: ['log child.drain-timeout warn', 'group 1 SIGKILL'],
    phase: 'running',
  },
  {
    name: 'the candidate dies during the handover: dropped, the current child keeps serving, no restart',
    given: handingOver,
    when: [exited(2)],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'cancel handover', 'log handover.failed error'],
    phase: 'running',
    status: 'ready',
  },
  {
    name: 'the current child dies during the handover: the candidate takes over at once, no restart',
    given: handingOver,
    when: [exited(1, { code: null, signal: SIGKILL })],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'cancel handover', 'log handover.took-over-early warn'],
    phase: 'running',
    status: 'starting',
  },
  {
    name: 'the early taker-over dies later: an ordinary exit for the restart policy',
    given: [...handingOver, exited(1)],
    when: [crashed(2)],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'log child.restart', 'spawn 3 current'],
    phase: 'waiting',
  },
  {
    name: 'the candidate not ready in time: stopped, the current child keeps serving',
    given: handingOver,
    when: [wait(60_000), fire('handover')],
    effects: ['signal 2 SIGTERM', 'arm kill:2 10000', 'log handover.failed error'],
    phase: 'running',
    status: 'ready',
  },
  {
    name: 'the timed-out candidate: its late READY changes nothing, its exit is expected',
    given: [...handingOver, fire('handover')],
    when: [ready(2), exited(2)],
    effects: ['log child.ready', 'log child.exited', 'cancel kill:2', 'settle-group 2 1000', 'log handover.retired'],
    phase: 'running',
  },
  {
    name: 'the timed-out candidate does not stop: SIGKILL to its group',
    given: [...handingOver, fire('handover')],
    when: [fire('kill:2')],
    effects: ['log child.stop-timeout warn', 'group 2 SIGKILL'],
    phase: 'running',
  },
  {
    name: 'the candidate cannot exec: the handover is abandoned, the current child keeps serving',
    given: serving,
    when: [reload, spawnFailed(2)],
    effects: ['log supervisor.reload', 'spawn 2 candidate', 'log child.spawn-failed error', 'log handover.failed error'],
    phase: 'running',
    status: 'ready',
  },
  {
    name: 'a second SIGHUP during a handover is queued, however many come',
    given: handingOver,
    when: [reload, reload],
    effects: ['log supervisor.reload', 'log handover.queued', 'log supervisor.reload', 'log handover.queued'],
    phase: 'running',
  },
  {
    name: 'the queued reload starts once the handover is done',
    given: [...handingOver, reload, reload],
    when: [ready(2), spawned(3)],
    effects: [
      ...['log child.ready', 'signal 1 SIGQUIT', 'log child.drain-signal', 'arm kill:1 10000', 'cancel handover', 'log handover.done'],
      ...['spawn 3 candidate', 'log child.started', 'arm handover 60000'],
    ],
    phase: 'running',
  },
  {
    name: 'the queued reload starts once the handover failed too',
    given: [...handingOver, reload],
    when: [exited(2)],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'cancel handover', 'log handover.failed error', 'spawn 3 candidate'],
    phase: 'running',
  },
  {
    name: 'a reload during the restart wait starts the next child now',
    given: waiting,
    when: [reload],
    effects: ['log supervisor.reload', 'cancel restart', 'log handover.start-now', 'spawn 2 current'],
    phase: 'waiting',
  },

  // A plan replaced (a socket made anew at its path).
  {
    name: 'a new plan hands over to a child started with it',
    given: serving,
    when: [replace(planB), spawned(2)],
    effects: ['log supervisor.reload', 'spawn 2 candidate B', 'log child.started', 'arm handover 60000'],
    phase: 'running',
  },
  {
    name: 'a new plan during a handover: queued, then the next candidate gets it',
    given: handingOver,
    when: [replace(planB), ready(2)],
    effects: [
      'log supervisor.reload',
      'log handover.queued',
      ...['log child.ready', 'signal 1 SIGQUIT', 'log child.drain-signal', 'arm kill:1 10000', 'cancel handover', 'log handover.done'],
      'spawn 3 candidate B',
    ],
    phase: 'running',
  },
  {
    name: 'the handover to a new plan fails: tried again in 1 s, then 2 s',
    given: [...serving, replace(planB), spawned(2)],
    when: [exited(2), wait(1000), fire('plan-retry'), spawned(3), exited(3)],
    effects: [
      ...['log child.exited warn', 'settle-group 2 1000', 'cancel handover', 'log handover.failed error'],
      ...['log handover.retry warn', 'arm plan-retry 1000'],
      ...['spawn 3 candidate B', 'log child.started', 'arm handover 60000'],
      ...['log child.exited warn', 'settle-group 3 1000', 'cancel handover', 'log handover.failed error'],
      ...['log handover.retry warn', 'arm plan-retry 2000'],
    ],
    phase: 'running',
  },
  {
    name: 'a failed handover with the plan unchanged is not retried',
    given: handingOver,
    when: [fire('handover')],
    effects: ['signal 2 SIGTERM', 'arm kill:2 10000', 'log handover.failed error'],
    phase: 'running',
  },
  {
    name: 'a candidate of the new plan that cannot exec: retried too',
    given: serving,
    when: [replace(planB), spawnFailed(2)],
    effects: [
      ...['log supervisor.reload', 'spawn 2 candidate B', 'log child.spawn-failed error', 'log handover.failed error'],
      ...['log handover.retry warn', 'arm plan-retry 1000'],
    ],
    phase: 'running',
  },
  {
    name: 'another new plan resets the retries and hands over at once',
    given: [...serving, replace(planB), spawned(2), exited(2)],
    when: [replace(planA)],
    effects: ['cancel plan-retry', 'log supervisor.reload', 'spawn 3 candidate'],
    phase: 'running',
  },
  {
    name: 'a stop cancels the plan retry',
    given: [...serving, replace(planB), spawned(2), exited(2)],
    when: [stop],
    effects: ['cancel plan-retry', 'log supervisor.stopping', 'signal 1 SIGTERM', 'log child.stop-signal', 'arm kill:1 10000'],
    phase: 'stopping',
  },
  {
    name: 'a new plan while stopping starts nothing; the old fd is unused once the child is gone',
    given: [...stopping, waitFd(1, 3)],
    when: [replace(planB), exited(1)],
    effects: ['log child.exited', 'cancel kill:1', 'settle-group 1 0 notify', 'fd-unused 1'],
    phase: 'stopping',
  },
  {
    name: 'a new plan during the restart wait: the next child starts now, with it',
    given: waiting,
    when: [replace(planB)],
    effects: ['log supervisor.reload', 'cancel restart', 'log handover.start-now', 'spawn 2 current B'],
    phase: 'waiting',
  },

  // Descriptors of old sockets, and signals passed on.
  { name: 'an fd nobody uses is unused at once', given: serving, when: [waitFd(1, 9)], effects: ['fd-unused 1'], phase: 'running' },
  {
    name: "an old socket's fd is unused once the last child started with it is gone",
    given: [...serving, waitFd(1, 3), replace(planB), spawned(2), ready(2)],
    when: [exited(1, { code: 0 })],
    effects: ['log child.exited', 'cancel kill:1', 'settle-group 1 1000', 'log handover.retired', 'fd-unused 1'],
    phase: 'running',
  },
  {
    name: 'every fd is unused once supervision is over',
    given: [...serving, waitFd(1, 3)],
    restart: { mode: 'never' },
    when: [exited(1)],
    effects: ['log child.exited warn', 'settle-group 1 1000', 'log supervisor.child-done', 'finish 1', 'fd-unused 1'],
    phase: 'done',
  },
  { name: 'a job signal goes to the current child', given: serving, when: [forward], effects: ['forward 1 SIGUSR1'], phase: 'running' },
  { name: 'a job signal during the restart wait goes nowhere', given: waiting, when: [forward], effects: [], phase: 'waiting' },

  // Ending while an old child drains.
  {
    name: 'supervision ending while an old child drains: its timer goes, its group is killed',
    given: handedOver,
    restart: { mode: 'never' },
    when: [exited(2, { code: 4 })],
    effects: ['log child.exited warn', 'settle-group 2 1000', 'log supervisor.child-done', 'cancel kill:1', 'group 1 SIGKILL', 'finish 4'],
    phase: 'done',
  },
  {
    name: 'the drained child exiting after the end: expected, nothing more',
    given: [...handedOver, exited(2)],
    restart: { mode: 'never' },
    when: [exited(1, { code: null, signal: SIGKILL })],
    effects: ['log child.exited', 'settle-group 1 1000', 'log handover.retired'],
    phase: 'done',
  },
];

for (const row of rows) {
  test(row.name, () => {
    const before = given(row.given, row.restart);
    const after = feed({ ...before, effects: [] }, row.when);
    const shown = after.effects.map((e) => show(e, after.state.settings)).filter((line): line is string => line !== null);
    assert.deepEqual(shown, row.effects);
    assert.equal(after.state.phase, row.phase);
    if (row.status) {
      const current = after.state.handover.current;
      // The current child's readiness, as the Generation would know it from its READY=1.
      const readyOnes = new Set([...row.given, ...row.when].flatMap((i) => (i.type === 'ready' ? [i.generation] : [])));
      const currentReady = current !== null && after.state.generations.has(current) ? readyOnes.has(current) : null;
      assert.equal(statusPhase(after.state, currentReady), row.status);
    }
  });
}

test('never: a later generation that cannot exec ends supervision with 126', () => {
  const state = given(serving, { mode: 'always' });
  // Restart at once after a healthy run; then the mode is never for the exec failure.
  const restarting = feed(state, [crashed(1)]);
  const never = { ...restarting.state, settings: { ...settings, restart: { ...settings.restart, mode: 'never' as const } } };
  const result = step(never, { type: 'spawn-failed', generation: 2, error: new Error('gone'), now: 0 });
  assert.deepEqual(
    result.effects.map((e) => show(e, settings)).filter((l) => l !== null),
    ['log child.spawn-failed error', 'log supervisor.child-done', 'finish 126'],
  );
});

test('the input state is never changed: a step returns a new one', () => {
  const before = given(handingOver).state;
  const copy = { ...before, generations: new Map(before.generations), timers: new Map(before.timers) };
  step(before, { type: 'exited', generation: 1, exit: { code: 1, signal: null, uptimeMs: 5 }, now: 1 });
  step(before, { type: 'stop', reason: 'SIGTERM', now: 1 });
  assert.deepEqual(before, copy);
});

test('a status report follows every step that changes something, and only those', () => {
  const reports = (run: Run, inputs: Input[]): number =>
    feed({ ...run, effects: [] }, inputs).effects.filter((e) => e.type === 'report').length;
  assert.equal(reports(given([]), [start]), 0, 'the spawn is reported once it is answered');
  assert.equal(reports(given([start]), [spawned(1), ready(1)]), 2);
  assert.equal(reports(given(serving), [crashed(1)]), 0, 'an immediate restart is reported once the new child runs');
  assert.equal(reports(given([...serving, reload]), [spawnFailed(2)]), 1);
  assert.equal(reports(given(serving), [forward, fire('restart'), waitFd(1, 9)]), 0);
  assert.equal(reports(given(waiting), [stop]), 1);
});

test('the restart count grows with each restart', () => {
  const { state } = given([...serving, exited(1), fire('restart'), spawned(2), crashed(2)]);
  assert.equal(state.restarts, 2);
});

test('the log sentences users and tests read are unchanged', () => {
  const msg = (entry: LogEntry): string => describeLog(entry, settings).msg;
  const exit = (code: number | null, signal: number | null, uptimeMs: number): ChildExit => ({ code, signal, uptimeMs });
  const cases: [LogEntry, string][] = [
    [
      { what: 'handover-failed', reason: 'timeout', generation: 2, pid: 41, exit: null },
      'handover abandoned: the new child of generation 2 was not ready within 60 s (--handover-timeout) and is being stopped; ' +
        'the current child 41 keeps serving',
    ],
    [
      { what: 'handover-failed', reason: 'exited', generation: 3, pid: 41, exit: exit(1, null, 5) },
      'handover abandoned: the new child of generation 3 exited with code 1 before it was ready (read its output above); ' +
        'the current child 41 keeps serving',
    ],
    [
      { what: 'plan-retry', reason: 'the socket /run/app.sock was made anew', delayMs: 1000, attempt: 2, pid: 41 },
      'the child 41 still serves a socket that is no longer at its path (the socket /run/app.sock was made anew): ' +
        'trying the handover again in 1 s',
    ],
    [
      { what: 'giving-up', quickExits: 5, streakMs: 30_123.4 },
      'giving up: the child exited 5 times in a row within 30.1 s, each time sooner than the healthy threshold; ' +
        'read its output above, fix it, then start sockvisor again',
    ],
    [{ what: 'child-done', reason: 'never', status: 137 }, "not restarting (--restart always); exiting with the child's status 137"],
    [{ what: 'kill-timeout', reason: 'stop', pid: 7 }, 'the child did not stop in time: SIGKILL to its process group'],
    [{ what: 'kill-timeout', reason: 'abort', pid: 7 }, 'the new child did not stop in time: SIGKILL to its process group'],
    [{ what: 'kill-timeout', reason: 'drain', pid: 7 }, 'the old child did not finish in time: SIGKILL to its process group'],
    [
      { what: 'exited', pid: 7, generation: 1, exit: exit(null, SIGKILL, 420.4), expected: false },
      'child 7 was killed by SIGKILL after 420 ms',
    ],
    [
      { what: 'ready', pid: 7, generation: 1, how: 'silent' },
      'child 7 counts as ready: it said nothing on NOTIFY_SOCKET for 0 s (--ready-after)',
    ],
    [{ what: 'handed-over', pid: 8, generation: 2, oldPid: 7 }, 'handover done: child 8 serves, the old child 7 finishes its requests'],
    [
      { what: 'took-over-early', generation: 2, pid: 8 },
      'the current child exited during the handover: the new child 8 takes over before it is ready ' +
        "(requests wait in the socket's backlog)",
    ],
  ];
  for (const [entry, sentence] of cases) assert.equal(msg(entry), sentence);
  assert.deepEqual(describeLog({ what: 'stop-signal', pid: 7, signo: SIGTERM }, settings).fields, {
    event: 'child.stop-signal',
    pid: 7,
    signal: 'SIGTERM',
    timeoutMs: 10_000,
  });
});
