// From kill -9 of the child to the exec of the next one, sockvisor against supervisord, with the same
// static child started straight from Node as the baseline (what a fork and exec cost from Node).
import { spawn } from 'node:child_process';
import { isAlive } from '../../test/helpers/proc.js';
import { fmt, median, pct, sectionDir, sleep, stopAll, type Env, type Section } from '../lib/common.js';
import { startSockvisorSetup, startSupervisord } from '../lib/setups.js';
import { buildStamp, readStamps, type Stamp } from '../lib/stamp.js';

const SOCKVISOR_RESTARTS = 100;
const SUPERVISORD_RESTARTS = 20;
/** How long a child of the second view lives before it kills itself: past --healthy-after (no backoff). */
const LIFETIME_MS = 150;

const ms = (ns: bigint): number => Number(ns) / 1e6;

/** Waits (polling the file, not timing anything) until it holds more than `count` stamps. */
async function stampsBeyond(file: string, count: number, timeoutMs = 10000): Promise<Stamp[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const stamps = readStamps(file);
    if (stamps.length > count) return stamps;
    if (Date.now() > end) throw new Error(`no new stamp in ${file} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The latest stamp's pid: the child running now. */
function currentChild(file: string): number {
  const pid = readStamps(file).at(-1)?.pid;
  if (pid === undefined || !isAlive(pid)) throw new Error(`no running child stamped ${file}`);
  return pid;
}

/** One kill -9 of the current child: the time from right before kill() to the next child's stamp. */
async function killAndTime(file: string): Promise<number> {
  const before = readStamps(file).length;
  const pid = currentChild(file);
  const killedAt = process.hrtime.bigint();
  process.kill(pid, 'SIGKILL');
  const stamps = await stampsBeyond(file, before);
  return ms(stamps[before]!.atNs - killedAt);
}

/** One start of the stamp straight from here with child_process.spawn: from the call to its stamp. */
async function spawnAndTime(stamp: string, file: string): Promise<number> {
  const before = readStamps(file).length;
  const at = process.hrtime.bigint();
  const proc = spawn(stamp, [file], { stdio: 'ignore' });
  await new Promise((resolve) => proc.on('exit', resolve));
  const stamps = await stampsBeyond(file, before);
  return ms(stamps[before]!.atNs - at);
}

/** Child to child: each child stamps its start, and again right before it SIGKILLs itself; next start minus that end. */
function childToChild(stamps: Stamp[]): number[] {
  const latencies: number[] = [];
  for (let i = 1; i + 1 < stamps.length; i++) {
    const [end, next] = [stamps[i]!, stamps[i + 1]!];
    if (stamps[i - 1]!.pid === end.pid && next.pid !== end.pid) latencies.push(ms(next.atNs - end.atNs));
  }
  return latencies;
}

interface Figures {
  sockvisor: number[];
  baseline: number[];
  childToChild: number[];
  supervisord: number[];
}

async function measure(env: Env): Promise<Figures> {
  const stamp = buildStamp(env.dir);

  // kill -9 from here, each restart followed by one spawn of the baseline (A B A B on a noisy machine).
  const svDir = sectionDir(env, 'latency-sv');
  const svFile = `${svDir}/starts`;
  const baseFile = `${svDir}/baseline`;
  env.started.setups.push(await startSockvisorSetup(svDir, 1, {}, [stamp, svFile, 'wait'], ['--healthy-after', '0.1']));
  await stampsBeyond(svFile, 0);
  await sleep(500); // sockvisor's own start-up is over (a first kill within it measured up to 55 ms)
  console.log(`restart latency: sockvisor, ${SOCKVISOR_RESTARTS} restarts and as many spawns from Node`);
  const sockvisor: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < SOCKVISOR_RESTARTS; i++) {
    sockvisor.push(await killAndTime(svFile));
    baseline.push(await spawnAndTime(stamp, baseFile));
    await sleep(120); // past --healthy-after: every run is healthy, so no backoff
  }
  await stopAll(env);

  // Children that kill themselves: no timestamp of this process at all.
  const selfDir = sectionDir(env, 'latency-self');
  const selfFile = `${selfDir}/stamps`;
  const self = ['die-after', String(LIFETIME_MS)];
  env.started.setups.push(await startSockvisorSetup(selfDir, 1, {}, [stamp, selfFile, ...self], ['--healthy-after', '0.1']));
  console.log(`restart latency: sockvisor, ${SOCKVISOR_RESTARTS} children that kill themselves`);
  const stamps = await stampsBeyond(selfFile, 2 * SOCKVISOR_RESTARTS + 1, (SOCKVISOR_RESTARTS + 10) * (LIFETIME_MS + 100));
  await stopAll(env);

  const supDir = sectionDir(env, 'latency-sup');
  const supFile = `${supDir}/starts`;
  env.started.setups.push(await startSupervisord(supDir, 1, {}, `${stamp} ${supFile} wait`));
  await stampsBeyond(supFile, 0);
  console.log(`restart latency: supervisord, ${SUPERVISORD_RESTARTS} restarts`);
  const supervisord: number[] = [];
  for (let i = 0; i < SUPERVISORD_RESTARTS; i++) {
    supervisord.push(await killAndTime(supFile));
    await sleep(120);
  }
  await stopAll(env);
  return { sockvisor, baseline, childToChild: childToChild(stamps).slice(0, SOCKVISOR_RESTARTS), supervisord };
}

export const restartLatencySection: Section = {
  name: 'restart-latency',
  async run(env) {
    const f = await measure(env);
    const row = (name: string, xs: number[]): string =>
      `| ${name} | ${xs.length} | ${fmt(median(xs), 2)} ms | ${fmt(pct(xs, 90), 2)} ms | ${fmt(Math.max(...xs), 2)} ms |`;
    const own = (xs: number[]): string => fmt(median(xs) - median(f.baseline), 2);
    return [
      '## Restart latency',
      '',
      'From `kill -9` of the child to the exec of the next one. The child is a small static program (bench/lib/stamp.c) that appends',
      "CLOCK_MONOTONIC (the clock of Node's `process.hrtime.bigint()`) to a file the moment it runs, so no shell or `date` is timed.",
      "The bench reads the clock right before `process.kill(pid, SIGKILL)`; the latency is the next child's stamp minus that.",
      'Each restart is followed by one start of the same program with `child_process.spawn` from the bench (the baseline: what a',
      'fork and exec of a static program cost from Node, with no death to notice), so both are measured alternately under the same load.',
      `A second view needs no clock of the bench's: children that stamp, live ${LIFETIME_MS} ms, stamp again and SIGKILL themselves;`,
      "the latency is the next child's start stamp minus the dead one's last stamp.",
      `sockvisor with \`--healthy-after 0.1\` (every run is healthy, so no backoff), ${SOCKVISOR_RESTARTS} restarts each;`,
      `supervisord \`[program]\` with \`autorestart=true\`, \`startsecs=0\`, ${SUPERVISORD_RESTARTS} restarts (it restarts on its own 1 s clock).`,
      'The section takes about a minute.',
      '',
      '| supervisor | restarts | median | p90 | max |',
      '|---|---|---|---|---|',
      row('sockvisor (kill -9 from the bench)', f.sockvisor),
      row('sockvisor (child to child, self-inflicted SIGKILL)', f.childToChild),
      row('supervisord (kill -9 from the bench)', f.supervisord),
      row("baseline: the same program started by Node's `child_process.spawn`", f.baseline),
      '',
      `sockvisor's own part (median minus the baseline's median): **${own(f.sockvisor)} ms** (kill -9 from the bench),`,
      `${own(f.childToChild)} ms (child to child). Goal: at most 2 ms.`,
      '',
      "The own part can come out below zero: Node's `spawn` forks, copying the page tables of the whole bench process, while",
      'sockvisor clones the child sharing its memory until exec (as `posix_spawn` does), which copies no page tables.',
      'What is left is noticing the death (pidfd wakeup, `waitid`) and the step of the lifecycle; the log lines of the restart',
      'are written after the fork.',
    ];
  },
};
