// Memory and CPU of the supervising processes at idle: sockvisor (node, plus sockvisor-guard and its
// sockvisor-pin) against supervisord (python), each holding one socket for one uWSGI; where
// sockvisor's private memory goes; whether it grows over 200 restarts; and 20 of each on one host.
// Costs about 2 minutes: 20 s of settling, then one 60 s idle window during which the restart and
// 20-instance measurements run beside the idle pair, then the stops.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, commOf, waitUntil } from '../../test/helpers/proc.js';
import { repoRoot } from '../../test/helpers/sockvisor.js';
import { fmt, sectionDir, sleep, stopAll, type Env, type Section } from '../lib/common.js';
import { startSockvisorSetup, startSupervisord, startSupervisordSockets, usage, type Setup } from '../lib/setups.js';

/** V8's memory reducer shrinks the young generation some seconds after start-up's allocations stop. */
const SETTLE_S = 20;
const IDLE_S = 60;
const EARLY_S = 5;
const RESTARTS = 200;
const LEAK_SETTLE_MAX_S = 25;
const LEAK_ROUNDS = 2;
/** The 20 instances start on a loaded machine: their memory reducers act later. */
const MANY_SETTLE_S = 30;
const INSTANCES = 20;
const CHEAP_CHILD = ['/bin/sleep', 'infinity'];
/** The node flag measured beside the default (not shipped; see the text of the section). */
const SEMI_FLAG = '--max-semi-space-size=1';

/** The fields of /proc/PID/smaps_rollup used here, in kB. */
interface Smaps {
  rss: number;
  pss: number;
  privateClean: number;
  privateDirty: number;
  anonymous: number;
}

const ZERO: Smaps = { rss: 0, pss: 0, privateClean: 0, privateDirty: 0, anonymous: 0 };

function smaps(pid: number): Smaps {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rss: field('Rss'),
    pss: field('Pss'),
    privateClean: field('Private_Clean'),
    privateDirty: field('Private_Dirty'),
    anonymous: field('Anonymous'),
  };
}

const add = (a: Smaps, b: Smaps): Smaps => ({
  rss: a.rss + b.rss,
  pss: a.pss + b.pss,
  privateClean: a.privateClean + b.privateClean,
  privateDirty: a.privateDirty + b.privateDirty,
  anonymous: a.anonymous + b.anonymous,
});

/** sockvisor's own processes: the node process, sockvisor-guard and the guard's sockvisor-pin forks. */
function sockvisorSide(pid: number): { node: number; guard: number | null; pins: number[] } {
  const guard = childrenOf(pid).find((child) => commOf(child) === 'sockvisor-guard') ?? null;
  return { node: pid, guard, pins: guard === null ? [] : childrenOf(guard) };
}

function sideSmaps(pid: number): { node: Smaps; guard: Smaps; pins: Smaps; pinCount: number; all: Smaps } {
  const side = sockvisorSide(pid);
  const node = smaps(side.node);
  const guard = side.guard === null ? ZERO : smaps(side.guard);
  const pins = side.pins.map(smaps).reduce(add, ZERO);
  return { node, guard, pins, pinCount: side.pins.length, all: add(add(node, guard), pins) };
}

/**
 * Private anonymous memory of a process by kind, from /proc/PID/smaps: V8 maps its heap pages at
 * random addresses below the shared libraries, glibc's main malloc arena is [heap] (brk), and each
 * thread's malloc arena is an mmap aligned to 64 MB.
 */
function anonByKind(pid: number): Map<string, number> {
  const kinds = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const map = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (map) {
      const start = BigInt(`0x${map[1]}`);
      const name = map[2] ?? '';
      if (name === '[heap]') kind = 'malloc main arena ([heap], brk)';
      else if (name !== '') kind = 'copy-on-write pages of files and [stack]';
      else if (start < 0x7f0000000000n) kind = 'V8 heap pages';
      else if (start % (64n << 20n) === 0n) kind = "malloc arenas of node's threads";
      else kind = 'other anonymous mmaps (thread stacks, large mallocs, V8 code)';
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon && kind) kinds.set(kind, (kinds.get(kind) ?? 0) + Number(anon[1]));
  }
  return kinds;
}

/**
 * Loaded into a sockvisor with node --require: writes the V8 heap figures of that process to a file
 * once after FOOTPRINT_HEAP_AT_MS, or every FOOTPRINT_HEAP_EVERY_MS (that process then wakes that often);
 * with FOOTPRINT_HEAP_GC (and node --expose-gc) after a full collection, so that in use means alive.
 */
const HEAP_PROBE = `const v8 = require('node:v8');
const write = () => {
  if (process.env.FOOTPRINT_HEAP_GC && typeof gc === 'function') gc();
  const spaces = v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size, s.space_used_size]);
  require('node:fs').writeFileSync(process.env.FOOTPRINT_HEAP_OUT, JSON.stringify({ spaces, heap: v8.getHeapStatistics() }));
};
if (process.env.FOOTPRINT_HEAP_EVERY_MS) setInterval(write, Number(process.env.FOOTPRINT_HEAP_EVERY_MS)).unref();
else setTimeout(write, Number(process.env.FOOTPRINT_HEAP_AT_MS)).unref();
`;

const space = (probe: HeapProbe, name: string): { physical: number; used: number } => {
  const found = probe.spaces.find(([n]) => n === name);
  return { physical: (found?.[1] ?? NaN) / 1024, used: (found?.[2] ?? NaN) / 1024 };
};

interface HeapProbe {
  spaces: [string, number, number][];
  heap: { total_physical_size: number; used_heap_size: number; malloced_memory: number; external_memory: number };
}

/** V8 heap in use (after two full collections) of a fresh node that imports specs, in kB. */
function heapUsedWith(specs: string[]): number {
  const code = `${specs.map((s) => `await import(${JSON.stringify(s)});`).join('')}
gc(); gc(); console.log(JSON.stringify((await import('node:v8')).getHeapStatistics().used_heap_size));`;
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`node could not import ${specs.join(', ')}: ${out.stderr}`);
  return Number(out.stdout.trim()) / 1024;
}

const mb = (kb: number): string => `${fmt(kb / 1024, 1)} MB`;
const smapsCells = (s: Smaps): string => `${mb(s.rss)} | ${mb(s.pss)} | ${mb(s.privateClean)} | ${mb(s.privateDirty)} | ${mb(s.anonymous)}`;

/** Starts count setups, a few at a time (each start costs a loaded 2-core machine some CPU). */
async function startMany(env: Env, count: number, start: (i: number) => Promise<Setup>): Promise<Setup[]> {
  const setups: Setup[] = [];
  for (let i = 0; i < count; i += 5) {
    const batch = await Promise.all(Array.from({ length: Math.min(5, count - i) }, (_, j) => start(i + j)));
    env.started.setups.push(...batch);
    setups.push(...batch);
  }
  return setups;
}

/** Stops setups at once (a supervisord takes about a second to stop) and forgets them. */
async function stopMany(env: Env, setups: Setup[]): Promise<void> {
  env.started.setups = env.started.setups.filter((s) => !setups.includes(s));
  await Promise.all(setups.map((s) => s.stop()));
}

interface Snapshot {
  smaps: ReturnType<typeof sideSmaps>;
  oldUsedKb: number;
  newKb: number;
}

interface Leak {
  /** before, then after each round of RESTARTS */
  snapshots: Snapshot[];
  /** seconds each round of restarts took */
  seconds: number[];
}

/**
 * Once the memory reducer has shrunk the young generation (at most LEAK_SETTLE_MAX_S): smaps and
 * the old space in use, which only a leak makes grow (the young generation's size varies with load).
 */
async function settledSnapshot(pid: number, heapOut: string): Promise<Snapshot> {
  const read = (): HeapProbe | null => {
    try {
      return JSON.parse(readFileSync(heapOut, 'utf8')) as HeapProbe;
    } catch {
      return null;
    }
  };
  await sleep(5000);
  await waitUntil(() => {
    const probe = read();
    return probe !== null && space(probe, 'new_space').physical <= 1024;
  }, LEAK_SETTLE_MAX_S * 1000);
  const probe = read();
  return {
    smaps: sideSmaps(pid),
    oldUsedKb: probe ? space(probe, 'old_space').used : NaN,
    newKb: probe ? space(probe, 'new_space').physical : NaN,
  };
}

/**
 * sockvisor with a cheap child: settled figures, then LEAK_ROUNDS times RESTARTS kill -9 of the child
 * (each restarted at once) and settled figures again. The first round also compiles the restart path
 * for the first time; a leak grows again in the second.
 */
async function leakCheck(env: Env, probe: string): Promise<Leak> {
  const quick = ['--healthy-after', '0.05', '--restart-delay', '0.01', '--restart-delay-max', '0.05'];
  const dir = sectionDir(env, 'leak');
  const heapOut = join(dir, 'heap.json');
  const sv = await startSockvisorSetup(
    dir,
    1,
    { FOOTPRINT_HEAP_OUT: heapOut, FOOTPRINT_HEAP_EVERY_MS: '500', FOOTPRINT_HEAP_GC: '1' },
    CHEAP_CHILD,
    quick,
    ['--expose-gc', '--require', probe],
  );
  env.started.setups.push(sv);
  const snapshots = [await settledSnapshot(sv.supervisorPid!, heapOut)];
  const seconds: number[] = [];
  for (let round = 0; round < LEAK_ROUNDS; round++) {
    const t0 = performance.now();
    for (let restarts = 0; restarts < RESTARTS; restarts++) {
      const pid = sv.masterPid();
      if (pid === null) throw new Error('leak check: sockvisor has no child');
      process.kill(pid, 'SIGKILL');
      if (!(await waitUntil(() => ![null, pid].includes(sv.masterPid()), 10000))) throw new Error('leak check: no restart');
    }
    seconds.push((performance.now() - t0) / 1000);
    snapshots.push(await settledSnapshot(sv.supervisorPid!, heapOut));
  }
  await stopMany(env, [sv]);
  return { snapshots, seconds };
}

interface Many {
  sockvisors: Smaps;
  sockvisorPrivate: { private: number; sharedOnce: number };
  supervisords: Smaps;
  supervisordPrivate: { private: number; sharedOnce: number };
  oneSupervisord: Smaps;
}

/** Private memory of every process plus the largest shared part once: the processes' total if nothing else shared their pages. */
function privatePlusSharedOnce(list: Smaps[]): { private: number; sharedOnce: number } {
  return {
    private: list.reduce((sum, s) => sum + s.privateClean + s.privateDirty, 0),
    sharedOnce: Math.max(...list.map((s) => s.rss - s.privateClean - s.privateDirty)),
  };
}

/** INSTANCES sockvisors and INSTANCES supervisords, each holding a socket for a cheap child, and one supervisord holding INSTANCES. */
async function manyInstances(env: Env): Promise<Many> {
  const dir = sectionDir(env, 'many');
  const sockvisors = await startMany(env, INSTANCES, (i) => startSockvisorSetup(sectionDir(env, `many/sv-${i}`), 1, {}, CHEAP_CHILD));
  const supervisords = await startMany(env, INSTANCES, (i) =>
    startSupervisordSockets(sectionDir(env, `many/sup-${i}`), [CHEAP_CHILD.join(' ')]),
  );
  const [one] = await startMany(env, 1, () => startSupervisordSockets(join(dir), Array(INSTANCES).fill(CHEAP_CHILD.join(' '))));
  await sleep(MANY_SETTLE_S * 1000);
  const svSides = sockvisors.map((s) => sideSmaps(s.supervisorPid!));
  const svProcs = svSides.flatMap((s) => [s.node, s.guard, s.pins]);
  const supProcs = supervisords.map((s) => smaps(s.supervisorPid!));
  const result = {
    sockvisors: svSides.map((s) => s.all).reduce(add, ZERO),
    sockvisorPrivate: privatePlusSharedOnce(svProcs),
    supervisords: supProcs.reduce(add, ZERO),
    supervisordPrivate: privatePlusSharedOnce(supProcs),
    oneSupervisord: smaps(one!.supervisorPid!),
  };
  await stopMany(env, [...sockvisors, ...supervisords, one!]);
  return result;
}

async function measure(env: Env) {
  const heapOut = join(env.dir, 'heap.json');
  const probe = join(env.dir, 'heap-probe.cjs');
  writeFileSync(probe, HEAP_PROBE);
  const sv = await startSockvisorSetup(sectionDir(env, 'idle-sv'), 1);
  env.started.setups.push(sv);
  const semi = await startSockvisorSetup(sectionDir(env, 'idle-sv-semi'), 1, {}, undefined, [], [SEMI_FLAG]);
  env.started.setups.push(semi);
  const probed = await startSockvisorSetup(
    sectionDir(env, 'idle-sv-probe'),
    1,
    { FOOTPRINT_HEAP_OUT: heapOut, FOOTPRINT_HEAP_AT_MS: String((SETTLE_S + IDLE_S - 1) * 1000) },
    CHEAP_CHILD,
    [],
    ['--require', probe],
  );
  env.started.setups.push(probed);
  const sup = await startSupervisord(sectionDir(env, 'idle-sup'), 1);
  env.started.setups.push(sup);
  const t0 = performance.now();
  const at = (s: number): Promise<void> => sleep(Math.max(0, t0 + s * 1000 - performance.now()));
  await at(EARLY_S);
  const early = { sv: smaps(sv.supervisorPid!), semi: smaps(semi.supervisorPid!) };
  // Past start-up: V8 compiles and collects for some seconds after a start, then sleeps.
  await at(SETTLE_S);
  const settled = { sv: smaps(sv.supervisorPid!), semi: smaps(semi.supervisorPid!) };
  console.log(`footprint: ${IDLE_S} s idle, with the restart check and ${INSTANCES} instances of each beside it`);
  const cpuStart = [usage(sv.supervisorPid!), usage(sup.supervisorPid!)];
  const others = Promise.all([leakCheck(env, probe), manyInstances(env)]);
  others.catch(() => undefined);
  await at(SETTLE_S + IDLE_S);
  const cpuEnd = [usage(sv.supervisorPid!), usage(sup.supervisorPid!)];
  const idleEnd = { sv: sideSmaps(sv.supervisorPid!), semi: smaps(semi.supervisorPid!), sup: smaps(sup.supervisorPid!) };
  const kinds = anonByKind(sv.supervisorPid!);
  const heap = JSON.parse(readFileSync(heapOut, 'utf8')) as HeapProbe;
  const [leak, many] = await others;
  await stopAll(env);
  const modules = {
    none: heapUsedWith([]),
    promClient: heapUsedWith(['prom-client']),
    pinoPretty: heapUsedWith(['pino-pretty']),
    smolToml: heapUsedWith(['smol-toml']),
    three: heapUsedWith(['prom-client', 'pino-pretty', 'smol-toml']),
    run: heapUsedWith(['./dist/src/cli/run-command.js']),
  };
  const cpuMs = cpuStart.map((s, i) => cpuEnd[i]!.cpuMs - s.cpuMs);
  return { early, settled, kinds, heap, cpuMs, idleEnd, leak, many, modules };
}

export const footprint: Section = {
  name: 'footprint',
  async run(env) {
    const m = await measure(env);
    const s = m.idleEnd;
    const row = (name: string, x: Smaps): string => `| ${name} | ${smapsCells(x)} |`;
    const head = '| process | RSS | PSS | Private_Clean | Private_Dirty | Anonymous |';
    const spaceKb = (name: string): string => {
      const space = m.heap.spaces.find(([n]) => n === name);
      return space ? `${mb(space[1] / 1024)} (${mb(space[2] / 1024)} in use)` : '?';
    };
    const leakRow = (name: string, { smaps: x, oldUsedKb, newKb }: Snapshot): string =>
      `| ${name} | ${mb(x.node.rss)} | ${mb(x.node.anonymous)} | ${mb(oldUsedKb)} | ${mb(newKb)} | ${mb(x.guard.rss)}` +
      ` | ${x.pinCount} | ${mb(x.all.pss)} |`;
    const manyRow = (name: string, x: Smaps, alone: number): string => `| ${name} | ${mb(x.rss)} | ${mb(x.pss)} | ${mb(alone)} |`;
    const alone = (x: { private: number; sharedOnce: number }): number => x.private + x.sharedOnce;
    const heap = m.heap.heap;
    const moduleShare = (kb: number): string => `+${mb(kb - m.modules.none)}`;
    return [
      '## Footprint at idle',
      '',
      `One uWSGI child (1 worker) each, no requests. Memory from /proc/PID/smaps_rollup ${SETTLE_S + IDLE_S} s after the` +
        " start (V8's memory reducer shrinks the young generation after start-up, mostly within 20 s), of sockvisor (node), its" +
        " sockvisor-guard (a small native program it execs) and the sockvisor-pin fork the guard keeps in the child's" +
        ' process group, and of supervisord (python) holding the same socket for the same uWSGI as an [fcgi-program].' +
        ' Private_Clean + Private_Dirty is what the process alone costs; PSS adds its share of the pages it shares (the' +
        ' node binary and libraries: with other node processes on this machine too, so PSS here is lower than on a host' +
        ' running sockvisor alone); Anonymous is the heap-like part (V8 heap, malloc).',
      '',
      head,
      head.replace(/[^|]+/g, '---'),
      row('sockvisor (node)', s.sv.node),
      row('sockvisor-guard', s.sv.guard),
      row(`sockvisor-pin (${s.sv.pinCount})`, s.sv.pins),
      row('sockvisor, all its processes', s.sv.all),
      row('supervisord (python)', s.sup),
      '',
      `CPU time (utime + stime, 10 ms ticks) used over ${IDLE_S} s at idle, from ${SETTLE_S} s after the start:` +
        ` sockvisor ${fmt(m.cpuMs[0]!)} ms (its anonymous memory went from ${mb(m.settled.sv.anonymous)} to` +
        ` ${mb(s.sv.node.anonymous)} meanwhile: when the memory reducer's collections fall in the window, their CPU time is` +
        ` counted), supervisord ${fmt(m.cpuMs[1]!)} ms.` +
        ` The restart check and the ${INSTANCES}-instance measurement below run on the` +
        ' machine during that window; they do not wake the idle pair, whose CPU time is its own timers and polls (sockvisor' +
        ' polls nothing: a pidfd and a datagram socket on the event loop; supervisord wakes every second).',
      '',
      'Goals for sockvisor: private anonymous memory of the node process at most 15 MB at idle, under 50 ms of CPU per minute.',
      '',
      "### Where sockvisor's private memory goes",
      '',
      `Anonymous memory of the node process by kind (from /proc/PID/smaps, ${SETTLE_S + IDLE_S} s after its start):`,
      '',
      '| kind | anonymous |',
      '|---|---|',
      ...[...m.kinds.entries()].sort((a, b) => b[1] - a[1]).map(([kind, kb]) => `| ${kind} | ${mb(kb)} |`),
      '',
      "V8's own figures, from a sockvisor (cheap child) loaded with a probe (`node --require`) that reads" +
        ` v8.getHeapSpaceStatistics() once after ${SETTLE_S + IDLE_S - 1} s: heap ${mb(heap.total_physical_size / 1024)} resident,` +
        ` ${mb(heap.used_heap_size / 1024)} in use; old space ${spaceKb('old_space')}, young generation (new_space)` +
        ` ${spaceKb('new_space')}, code space ${spaceKb('code_space')}, large objects ${spaceKb('large_object_space')};` +
        ` V8's malloc ${mb(heap.malloced_memory / 1024)}, external ${mb(heap.external_memory / 1024)}. The old space is the` +
        ' loaded modules (bytecode, functions, their objects).',
      '',
      `Heap in use of a fresh node after two full collections, importing nothing: ${mb(m.modules.none)}; prom-client` +
        ` ${moduleShare(m.modules.promClient)}, pino-pretty ${moduleShare(m.modules.pinoPretty)}, smol-toml` +
        ` ${moduleShare(m.modules.smolToml)}, the three ${moduleShare(m.modules.three)}; the run command's modules` +
        ` (dist/src/cli/run-command.js and what it imports) ${moduleShare(m.modules.run)}. What loading a module lazily` +
        ' saves is its share here (and more resident memory while its code is compiled).',
      '',
      `The young generation right after start-up: ${EARLY_S} s after its start sockvisor had ${mb(m.early.sv.anonymous)}` +
        ` anonymous, under \`node ${SEMI_FLAG}\` ${mb(m.early.semi.anonymous)}; after ${SETTLE_S} s` +
        ` ${mb(m.settled.sv.anonymous)} and ${mb(m.settled.semi.anonymous)}; after ${SETTLE_S + IDLE_S} s` +
        ` ${mb(s.sv.node.anonymous)} and ${mb(s.semi.anonymous)}. The flag caps the young generation from the start; the` +
        ' memory reducer gives as much back by itself once sockvisor is idle (mostly within 20 s, later on a loaded machine).' +
        ' In separate runs, 20 starts of each alternating, the flag cost about 8% more CPU time to start (more scavenges while' +
        ' the modules load). Node takes it only on its command line' +
        " (v8.setFlagsFromString at the top of the entry is too late for the heap's layout), so it would need" +
        ' `#!/usr/bin/env -S node ...` (GNU env 8.30 or later; not every env has -S) and would still be missed by starts as' +
        " `node .../sockvisor.js` (a systemd unit for a checkout or a node outside systemd's PATH, the tests): not shipped." +
        ' Nor are --v8-pool-size=1 (3 fewer threads and their malloc arenas, about 1 MB) or MALLOC_ARENA_MAX=1 (the main' +
        ' arena grows by about as much): in separate runs both were within the run-to-run noise of about 1 MB, and an' +
        ' environment variable would reach the children.',
      '',
      '### Restarts and many instances',
      '',
      `Leak check: a sockvisor with a cheap child (\`${CHEAP_CHILD.join(' ')}\`), its child killed with kill -9` +
        ` ${RESTARTS} times, ${LEAK_ROUNDS} rounds (each restarted at once; ${m.leak.seconds.map((x) => fmt(x, 1)).join(' s and ')} s).` +
        ` Before and after each round, once V8 has shrunk the young generation (at most ${LEAK_SETTLE_MAX_S} s): smaps, and` +
        " V8's old space alive (in use after a full collection) from a probe loaded with `node --expose-gc --require` (it" +
        ' collects and writes the heap figures to a file every 0.5 s). The first round also compiles the restart path.',
      '',
      '| when | sockvisor RSS | sockvisor anonymous | V8 old space alive | V8 young generation | sockvisor-guard RSS' +
        ' | sockvisor-pin processes | PSS of all its processes |',
      '|---|---|---|---|---|---|---|---|',
      ...m.leak.snapshots.map((x, i) => leakRow(i === 0 ? 'before' : `after ${i * RESTARTS} restarts`, x)),
      '',
      `${INSTANCES} instances on one host, each holding one socket for a cheap child (\`${CHEAP_CHILD.join(' ')}\`; the` +
        ` children are not counted), ${MANY_SETTLE_S} s after they started. A sockvisor is one process tree per socket (one` +
        ` systemd unit per app), so ${INSTANCES} sockvisors compare with ${INSTANCES} supervisords; a supervisord is usually` +
        ' one per host with a program per app, shown too. "Alone" is the private memory of every process plus the largest' +
        ' shared part once: the total if no other process on the machine shared their pages.',
      '',
      '| setup | sum of RSS | sum of PSS | alone |',
      '|---|---|---|---|',
      manyRow(`${INSTANCES} sockvisors (node + guard + pin each)`, m.many.sockvisors, alone(m.many.sockvisorPrivate)),
      manyRow(`${INSTANCES} supervisords`, m.many.supervisords, alone(m.many.supervisordPrivate)),
      manyRow(`1 supervisord, ${INSTANCES} [fcgi-program]`, m.many.oneSupervisord, m.many.oneSupervisord.rss),
    ];
  },
};
