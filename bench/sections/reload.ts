// A reload of an app that takes 1 s to import, under load: uWSGI's own reload (SIGHUP to its
// master) against sockvisor's handover (SIGHUP to sockvisor), with a request in flight at each;
// each setup also runs the same load with no reload (its steady state), rounds alternating the
// setups, and every request nginx passed is logged with the worker that answered, so the slow
// requests of a handover can be placed in its phases (sockvisor's json log) and on a generation.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningNginx } from '../../test/helpers/nginx.js';
import { repoRoot } from '../../test/helpers/sockvisor.js';
import { fmt, pct, sectionDir, serve, sleep, underLoad, type Env, type LoadRun, type Section } from '../lib/common.js';
import { startRawLoop, startSockvisorSetup, type Setup } from '../lib/setups.js';
import { latencyPlot } from '../lib/svg.js';
import {
  cpuBetween,
  parents,
  readJsonLog,
  readTimingLog,
  sampleTrees,
  timingNginx,
  treeOf,
  upstreamErrors,
  type CpuSample,
  type LogEvent,
  type NginxRequest,
} from '../lib/timing.js';

const LOAD_S = 11;
const AT = [2, 5, 8];
const STEADY_S = 6;
const STEADY_AT = [2, 5];
const ROUNDS = 3;

interface Running {
  kind: 'raw' | 'sockvisor';
  name: string;
  setup: Setup;
  nginx: RunningNginx;
  /** sockvisor's json log */
  log: string | null;
}

interface Measured {
  kind: 'raw' | 'sockvisor';
  round: number;
  /** false for the steady run */
  reloads: boolean;
  from: number;
  until: number;
  nginxMaster: number;
  supervisorPid: number | null;
  run: LoadRun;
  /** nginx's log of the run */
  requests: NginxRequest[];
  /** nginx's error log lines about the socket during the run, by cause: what each non-2xx was */
  upstreamErrors: Map<string, number>;
  samples: CpuSample[];
  /** sockvisor's log events during the run */
  events: LogEvent[];
  loadavg: string;
}

/**
 * One run under load (reloads at `at` seconds, or none: the steady run, with the same in-flight requests), nginx's log of
 * it, and the CPU time of every process on the machine.
 */
async function loadRun(r: Running, round: number, seconds: number, at: number[], reloads: boolean): Promise<Measured> {
  const from = Date.now();
  const loadavg = readLoadavg();
  const sampler = sampleTrees(() => [1], 100);
  const name = reloads ? r.name : `${r.kind === 'raw' ? 'uWSGI alone' : 'sockvisor'}: steady, no reload`;
  const act = reloads ? () => process.kill(r.setup.reloadPid(), 'SIGHUP') : () => undefined;
  const errorsBefore = (await r.nginx.errorLogText()).length;
  const run = await underLoad(name, r.nginx, seconds, at, act, true);
  await sleep(500); // the last in-flight request and the last old generation are gone by now
  const samples = sampler.stop();
  const until = Date.now();
  const events = r.log ? readJsonLog(r.log).filter((e) => e.time >= from && e.time <= until) : [];
  return {
    kind: r.kind,
    round,
    reloads,
    from,
    until,
    nginxMaster: r.nginx.masterPid,
    supervisorPid: r.setup.supervisorPid,
    run,
    requests: readTimingLog(r.nginx.prefix, from),
    upstreamErrors: upstreamErrors((await r.nginx.errorLogText()).slice(errorsBefore)),
    samples,
    events,
    loadavg,
  };
}

function readLoadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function start(env: Env, kind: 'raw' | 'sockvisor'): Promise<Running> {
  const slow = { SLOW_IMPORT: '1' };
  const dir = sectionDir(env, `reload-${kind}`);
  const setup = kind === 'raw' ? await startRawLoop(dir, 2, slow) : await startSockvisorSetup(dir, 2, slow);
  const nginx = await serve(env, setup, timingNginx(setup.socketPath));
  const name = kind === 'raw' ? "uWSGI's own reload (SIGHUP to its master)" : "sockvisor's handover (SIGHUP to sockvisor)";
  return { kind, name, setup, nginx, log: kind === 'sockvisor' ? join(dir, 'sockvisor.log') : null };
}

async function measure(env: Env): Promise<Measured[]> {
  const setups = [await start(env, 'raw'), await start(env, 'sockvisor')];
  const out: Measured[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const r of setups) {
      console.log(`reload with a 1 s import, round ${round}: ${r.name}`);
      out.push(await loadRun(r, round, STEADY_S, STEADY_AT, false));
      out.push(await loadRun(r, round, LOAD_S, AT, true));
    }
  }
  return out;
}

/** A window of a handover, relative to its events: [from, to) in epoch ms. */
interface Window {
  name: string;
  what: string;
  spans: { from: number; to: number; oldPid: number; newPid: number; run: Measured }[];
}

interface Handover {
  run: Measured;
  reload: number;
  ready: number;
  oldExit: number;
  oldPid: number;
  newPid: number;
}

/** Each handover of a sockvisor run, from its json log: SIGHUP, the new child ready, the old one gone. */
function handovers(m: Measured): Handover[] {
  const out: Handover[] = [];
  for (const e of m.events.filter((x) => x.event === 'supervisor.reload')) {
    const after = m.events.filter((x) => x.time >= e.time);
    const ready = after.find((x) => x.event === 'child.ready');
    const drain = after.find((x) => x.event === 'child.drain-signal');
    if (!ready || !drain || ready.pid === undefined || drain.pid === undefined) continue;
    const exit = after.find((x) => x.event === 'child.exited' && x.pid === drain.pid);
    out.push({ run: m, reload: e.time, ready: ready.time, oldExit: exit?.time ?? drain.time + 2000, oldPid: drain.pid, newPid: ready.pid });
  }
  return out;
}

const pages = (r: NginxRequest): boolean => r.uri === '/';
const startOf = (r: NginxRequest): number => r.endMs - r.latencyMs;

/** Which processes are this benchmark's: below the bench process (setups, wrk) or below nginx's master. */
function ours(m: Measured, nginxMaster: number): Set<number> {
  return new Set([...treeOf(m.samples, process.pid), ...treeOf(m.samples, nginxMaster)]);
}

interface CpuShare {
  /** the time the CPU figures span (whole sampling intervals around the window asked for) */
  spanMs: number;
  /** CPU ms per second of wall time */
  perSecond: Record<'old' | 'new' | 'sockvisor' | 'nginx' | 'load' | 'other', number>;
  machineBusy: number;
}

/** CPU used in [from, to): by the old and new generation, sockvisor, nginx, the load generators, and every other process. */
function cpuShare(m: Measured, from: number, to: number, h: { oldPid: number; newPid: number } | null, nginxMaster: number): CpuShare {
  const { perPid, machineBusy, spanMs } = cpuBetween(m.samples, from, to);
  const mine = ours(m, nginxMaster);
  const parent = parents(m.samples);
  const nginxTree = treeOf(m.samples, nginxMaster);
  const sv = m.kind === 'sockvisor' ? treeOf(m.samples, m.supervisorPid ?? -1) : new Set<number>();
  const sums = { old: 0, new: 0, sockvisor: 0, nginx: 0, load: 0, other: 0 };
  for (const [pid, ms] of perPid) {
    if (ms <= 0 || parent.get(pid) === 2 || pid === 2) continue; // kernel threads
    const master = pid === h?.oldPid || pid === h?.newPid ? pid : parent.get(pid);
    if (h && master === h.oldPid) sums.old += ms;
    else if (h && master === h.newPid) sums.new += ms;
    else if (nginxTree.has(pid)) sums.nginx += ms;
    // sockvisor and its guard; with no handover at hand, its uWSGI counts as the old (only) child
    else if (sv.has(pid)) sums[pid === m.supervisorPid || commOf(m, pid).startsWith('sockvisor') ? 'sockvisor' : 'old'] += ms;
    else if (mine.has(pid)) sums.load += ms;
    else sums.other += ms;
  }
  const seconds = Math.max(0.001, spanMs / 1000);
  const perSecond = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / seconds])) as CpuShare['perSecond'];
  return { spanMs, perSecond, machineBusy };
}

function commOf(m: Measured, pid: number): string {
  for (let i = m.samples.length - 1; i >= 0; i--) {
    const p = m.samples[i]!.procs.get(pid);
    if (p) return p.comm;
  }
  return '';
}

const range = (xs: number[], digits = 1): string =>
  xs.length === 0 ? '-' : `${fmt(Math.min(...xs), digits)} - ${fmt(Math.max(...xs), digits)}`;

function runsTable(all: Measured[]): string[] {
  const steadyOf = (m: Measured): Measured | undefined => all.find((x) => x.kind === m.kind && x.round === m.round && !x.reloads);
  const rows = all.map((m) => {
    const w = m.run.wrk;
    const steady = steadyOf(m);
    const ratio = m.reloads && steady ? `${fmt(w.p99Ms / steady.run.wrk.p99Ms, 1)}x` : '';
    const inFlight = m.run.inFlight.map((x) => x.status).join(', ');
    const other = cpuShare(m, m.from, m.until, null, m.nginxMaster).perSecond.other;
    return (
      `| ${m.round} | ${m.run.name} | ${m.loadavg} | ${fmt(other / 10)} % | ${w.requests} | ${w.non2xx} | ${w.socketErrors} | ` +
      `${fmt(w.p50Ms, 1)} ms | ${fmt(w.p99Ms, 1)} ms | ${fmt(w.maxMs)} ms | ${ratio} | ${inFlight} | ` +
      `${[...m.upstreamErrors].map(([cause, n]) => `${n} x ${cause}`).join('; ') || 'nothing'} |`
    );
  });
  const head =
    '| round | setup | load average at start | CPU of other processes (% of one core) | wrk requests | non-2xx | socket errors | ' +
    "p50 | p99 | max | p99 / steady p99 | in-flight requests | nginx's error log about the socket |";
  return [head, head.replace(/[^|]+/g, '---'), ...rows];
}

function spreadTable(all: Measured[]): string[] {
  const head = '| setup | runs | p99 min - max | max min - max | non-2xx | socket errors | p99 / steady p99 of its round |';
  const rows: string[] = [];
  for (const kind of ['raw', 'sockvisor'] as const) {
    for (const reloads of [false, true]) {
      const ms = all.filter((m) => m.kind === kind && m.reloads === reloads);
      if (ms.length === 0) continue;
      const ratios = reloads
        ? ms.flatMap((m) => {
            const s = all.find((x) => x.kind === kind && x.round === m.round && !x.reloads);
            return s ? [m.run.wrk.p99Ms / s.run.wrk.p99Ms] : [];
          })
        : [];
      rows.push(
        `| ${ms[0]!.run.name} | ${ms.length} | ${range(ms.map((m) => m.run.wrk.p99Ms))} ms | ${range(
          ms.map((m) => m.run.wrk.maxMs),
          0,
        )} ms | ${ms.reduce((a, m) => a + m.run.wrk.non2xx, 0)} | ${ms.reduce((a, m) => a + m.run.wrk.socketErrors, 0)} | ${
          reloads ? `${range(ratios)}x` : ''
        } |`,
      );
    }
  }
  return [head, head.replace(/[^|]+/g, '---'), ...rows];
}

/** The handovers' phases, pooled over every sockvisor reload run: nginx's view of the requests and the CPU in each. */
function anatomy(all: Measured[]): { lines: string[]; hs: Handover[] } {
  const hs = all.filter((m) => m.kind === 'sockvisor' && m.reloads).flatMap(handovers);
  const steady = all.filter((m) => m.kind === 'sockvisor' && !m.reloads);
  const windows: Window[] = [
    {
      name: 'steady runs (no reload), whole run',
      what: '',
      spans: steady.map((m) => ({ from: m.from, to: m.until, oldPid: -1, newPid: -1, run: m })),
    },
    { name: 'the second before SIGHUP', what: '', spans: hs.map((h) => ({ from: h.reload - 1000, to: h.reload, ...h })) },
    { name: 'new child imports (SIGHUP to READY - 20 ms)', what: '', spans: hs.map((h) => ({ from: h.reload, to: h.ready - 20, ...h })) },
    {
      name: 'the switch (READY - 20 ms to READY + 100 ms)',
      what: '',
      spans: hs.map((h) => ({ from: h.ready - 20, to: h.ready + 100, ...h })),
    },
    {
      name: 'old child drains (READY + 100 ms until it exits)',
      what: '',
      spans: hs.map((h) => ({ from: h.ready + 100, to: h.oldExit, ...h })),
    },
    { name: 'the second after the old child exited', what: '', spans: hs.map((h) => ({ from: h.oldExit, to: h.oldExit + 1000, ...h })) },
  ];
  const head =
    '| window | total time | requests | p99 | max | answered by the new child | max, old child / new child | ' +
    'CPU (ms per s): old (or only) child | new child | sockvisor | nginx | wrk + timeline | other processes | machine busy |';
  const rows = windows.map((w) => {
    const lat: number[] = [];
    let byNew = 0;
    let maxOld = 0;
    let maxNew = 0;
    const cpu = { old: 0, new: 0, sockvisor: 0, nginx: 0, load: 0, other: 0 };
    let busy = 0;
    let total = 0;
    let windowTotal = 0;
    for (const s of w.spans) {
      const parent = parents(s.run.samples);
      for (const r of s.run.requests) {
        const t = startOf(r);
        if (!pages(r) || t < s.from || t >= s.to) continue;
        lat.push(r.latencyMs);
        if (r.workerPid !== null && parent.get(r.workerPid) === s.newPid) {
          byNew++;
          maxNew = Math.max(maxNew, r.latencyMs);
        } else maxOld = Math.max(maxOld, r.latencyMs);
      }
      const share = cpuShare(s.run, s.from, s.to, s.oldPid > 0 ? s : null, s.run.nginxMaster);
      const secs = share.spanMs / 1000;
      for (const k of Object.keys(cpu) as (keyof typeof cpu)[]) cpu[k] += share.perSecond[k] * secs;
      busy += share.machineBusy * secs;
      total += secs;
      windowTotal += (s.to - s.from) / 1000;
    }
    const per = (k: keyof typeof cpu): string => fmt(cpu[k] / Math.max(total, 0.001));
    return (
      `| ${w.name} | ${fmt(windowTotal, 1)} s | ${lat.length} | ${fmt(pct(lat, 99))} ms | ` +
      `${fmt(lat.reduce((a, b) => Math.max(a, b), 0))} ms | ${lat.length ? fmt((100 * byNew) / lat.length) : '-'} % | ` +
      `${fmt(maxOld)} / ${fmt(maxNew)} ms | ${per('old')} | ${per('new')} | ${per('sockvisor')} | ${per('nginx')} | ` +
      `${per('load')} | ${per('other')} | ${fmt((100 * busy) / Math.max(total, 0.001))} % |`
    );
  });
  return { lines: [head, head.replace(/[^|]+/g, '---'), ...rows], hs };
}

/** The slowest requests nginx passed in the sockvisor runs: when, who answered, and what else used the CPU meanwhile. */
function slowest(all: Measured[], hs: Handover[], n: number): string[] {
  const rows: { r: NginxRequest; m: Measured }[] = [];
  for (const m of all.filter((x) => x.kind === 'sockvisor')) for (const r of m.requests) if (pages(r)) rows.push({ r, m });
  rows.sort((a, b) => b.r.latencyMs - a.r.latencyMs);
  // One row per stall: the requests that waited together show up once, with how many they were.
  const picked: { r: NginxRequest; m: Measured; together: number }[] = [];
  for (const row of rows) {
    if (picked.length === n) break;
    const t = startOf(row.r);
    const same = picked.find((p) => p.m === row.m && Math.abs(startOf(p.r) - t) < 100);
    if (same) same.together++;
    else picked.push({ ...row, together: 1 });
  }
  const head =
    '| latency (nginx) | requests that slow then | run | when | answered by | CPU in that time (ms): other processes | nginx | uWSGI |';
  const out = picked.map(({ r, m, together }) => {
    const t = startOf(r);
    const h = hs.filter((x) => x.run === m).sort((a, b) => Math.abs(a.ready - t) - Math.abs(b.ready - t))[0];
    const parent = parents(m.samples);
    const master = r.workerPid === null ? null : parent.get(r.workerPid);
    const who = !h ? 'the only child' : master === h.newPid ? 'the new child' : master === h.oldPid ? 'the old child' : 'another child';
    const when = h ? `${fmt(t - h.ready)} ms from READY=1 of the nearest handover` : `${fmt((t - m.from) / 1000, 1)} s into the run`;
    const share = cpuShare(m, t - 100, r.endMs + 100, h ?? null, m.nginxMaster);
    const secs = share.spanMs / 1000;
    const uwsgiMs = (share.perSecond.old + share.perSecond.new) * secs;
    return `| ${fmt(r.latencyMs)} ms | ${together} | ${m.reloads ? 'reload' : 'steady'} (round ${m.round}) | ${when} | ${who} | ${fmt(
      share.perSecond.other * secs,
    )} | ${fmt(share.perSecond.nginx * secs)} | ${fmt(uwsgiMs)} |`;
  });
  return [head, head.replace(/[^|]+/g, '---'), ...out];
}

export const reload: Section = {
  name: 'reload',
  async run(env) {
    const started = performance.now();
    const all = await measure(env);
    const seconds = (performance.now() - started) / 1000;
    const last = all.filter((m) => m.reloads && m.round === ROUNDS);
    writeFileSync(
      join(repoRoot, 'docs', 'bench-reload.svg'),
      latencyPlot(
        'Reload of an app that takes 1 s to import, every 3 s',
        last.map((m) => ({ name: m.run.name, results: m.run.results, marks: m.run.marks })),
        'reload (SIGHUP)',
      ),
    );
    const { lines: anatomyLines, hs } = anatomy(all);
    const sv = all.filter((m) => m.kind === 'sockvisor');
    const svReload = sv.filter((m) => m.reloads);
    const maxOk = svReload.filter((m) => m.run.wrk.maxMs <= 100).length;
    const ratioOk = svReload.filter((m) => {
      const s = sv.find((x) => x.round === m.round && !x.reloads);
      return s !== undefined && m.run.wrk.p99Ms <= 2 * s.run.wrk.p99Ms;
    }).length;
    return [
      '## Reload of an app that takes 1 s to import',
      '',
      `\`SLOW_IMPORT=1\` makes the app sleep 1 s at import, like a big Django project; uWSGI runs 2 workers; nginx in front.`,
      `Each round runs, for each setup, the same load twice: ${STEADY_S} s with no reload (its steady state) and ${LOAD_S} s`,
      `with a reload at ${AT.join(', ')} s; ${ROUNDS} rounds, the setups alternating. Load: \`wrk -t2 -c10\` and a timeline`,
      'client (2 loops of one request per connection); in both runs a request to `/sleep?s=2` starts 150 ms before each',
      'reload time, so it is still in flight when the reload starts (and the steady run carries the same requests).',
      "- uWSGI's own reload: `kill -HUP` to the master of `uwsgi -s SOCKET ...` (graceful: workers finish, then the master re-execs and imports the app again).",
      "- sockvisor's handover: `kill -HUP` to sockvisor: a second uWSGI starts on the held socket, imports the app while the first one serves, says READY=1, then the first gets SIGPWR (mapped to uWSGI's graceful shutdown) and finishes its requests.",
      '',
      'Every run (wrk figures; CPU of other processes = CPU time of every process on the machine that is not this benchmark,',
      'from /proc, averaged over the run):',
      '',
      ...runsTable(all),
      '',
      'Spread over the rounds:',
      '',
      ...spreadTable(all),
      '',
      `Goals for sockvisor's handover: wrk max <= 100 ms in ${maxOk} of ${svReload.length} runs, and p99 <= 2x the steady p99 of its`,
      `round in ${ratioOk} of ${svReload.length} runs.`,
      '',
      `Where the time goes in sockvisor's ${hs.length} handovers: nginx logs every request with its time and the uWSGI worker`,
      "that answered (the example app's `X-Worker-Pid` header), placed in each handover's phases by sockvisor's json log",
      '(`supervisor.reload`, `child.ready`, `child.drain-signal`, `child.exited`); CPU time per process from /proc every 100 ms',
      "(a window's CPU figures span the whole sampling intervals around it: the switch's, 120 ms, spans 200-300 ms).",
      "nginx's request time starts when it has read the request, so it leaves out the time a request waits for nginx itself.",
      '',
      ...anatomyLines,
      '',
      'The slowest requests of the sockvisor runs (steady and reload), and the CPU time used from 100 ms before each began',
      'to 100 ms after it ended (whole 100 ms sampling intervals):',
      '',
      ...slowest(all, hs, 8),
      '',
      ...READING,
      '',
      `This section takes about ${fmt(seconds)} s.`,
      '',
      '![latency over time across reloads (last round)](bench-reload.svg)',
    ];
  },
};

/** What the tables showed when this section was written (2-core machine shared with other jobs). */
const READING = [
  'How to read it (measured while writing this section, load average 2.5 - 5 from other jobs on the 2 cores):',
  "- The machine is saturated by the benchmark itself: wrk, nginx's one worker and the uWSGI workers use both cores",
  '  (machine busy 85-100 % in every window, steady runs included). A handover adds little CPU: the new uWSGI',
  '  spends about 20-30 ms starting Python, then sleeps in its 1 s import; sockvisor about 10 ms.',
  '- Most requests over about 40 ms were not the handover: they came with CPU taken by other processes (a C++ compiler',
  '  of another job used 170 of 205 ms while a request waited 103 ms, 342 ms before a SIGHUP, and the uWSGI workers',
  '  got 60 ms between them in that time), and they happen in the steady runs as well.',
  "- The handover's own cost is the switch. For 10-40 ms around READY=1 the few requests in flight take that long",
  '  instead of about 1 ms (wrk, whose 10 connections all wait, starts nothing meanwhile), and the first 100 requests',
  '  of each new worker have a p99 of 10-30 ms against 1-3 ms later on: the old workers stop accepting the moment',
  '  SIGPWR arrives, so the just-forked new ones take the whole load at once. What holds those requests is not pinned',
  "  down further: no CPU burst of ours at 100 ms resolution, and the new workers' 100-600 page faults each account",
  "  for about 1 ms. uWSGI's own reload forks its workers anew too, after seconds without service.",
  '- Sending SIGPWR 500 ms after READY=1 instead (tried, alternating with the usual order): the first 100 ms after',
  '  READY=1 were calmer (max 2-8 ms against 8-17 ms) but the runs were not (wrk max 49 and 105 ms against 17 and',
  '  55 ms), and every handover lasts 500 ms longer: the handover is unchanged.',
  "- The old child's graceful shutdown costs nothing measurable: its idle workers exit at once (uWSGI's",
  '  `gracefully_kill`), the master reaps them on its next 1 s tick (`worker N buried after 1 seconds`) and exits.',
  "- Not every wrk maximum is in nginx's log: in a run with other processes at 0 %, wrk saw 101 ms while no request",
  "  in nginx's log took over 11 ms (nginx's time starts once it has read the request). That wait lies between wrk",
  "  and nginx (wrk's threads or nginx's one worker not running; read from /proc continuously in separate runs,",
  "  nginx's worker was running or runnable, never blocked on the disk), not in uWSGI or the handover; it was not",
  '  pinned down further.',
  '- Over four runs of this section (12 handover runs): max <= 100 ms in 10; the misses were 109 ms (other processes',
  '  at 32 % of a core over that run, 420-590 ms of CPU around its slowest requests) and 101 ms (the wait above).',
  '  p99 <= 2x steady in 9; the misses were those two runs and 3.6 ms against a steady 1.5 ms (2.4x): with a steady',
  '  p99 of 1.3-2 ms, a few milliseconds more are enough to cross 2x.',
];
