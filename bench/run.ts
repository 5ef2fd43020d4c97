// `npm run bench`: every comparison in one run on this machine, written to docs/benchmarks.md with
// the commands, the machine and the figures side by side, plus SVG plots of latency over time.
// The machine may be shared and noisy: compare the setups within one run (ratios), not across runs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { httpGet, type HttpResult } from '../test/helpers/http.js';
import { startNginx, type RunningNginx } from '../test/helpers/nginx.js';
import { repoRoot } from '../test/helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../test/helpers/tmp.js';
import { timeline, wrk, type TimedResult, type WrkResult } from './lib/load.js';
import { startRawLoop, startSockvisorSetup, startSupervisord, usage, waitServing, type Setup } from './lib/setups.js';
import { latencyPlot, type Series } from './lib/svg.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const docs = join(repoRoot, 'docs');
const LOAD_S = 12;
const SETTLE_S = 15;

/** Installs the packages of scripts/bench-packages.txt that are missing (apt-get, as root). */
function ensurePackages(): void {
  const wanted = readFileSync(join(repoRoot, 'scripts', 'bench-packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const missing = wanted.filter((pkg) => {
    try {
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).includes('install ok installed');
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The first line a tool prints about its version (nginx and wrk print it on stderr). */
function version(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
}

function machine(): string[] {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return [
    `- CPU: ${cpus()[0]?.model ?? '?'}, nproc ${cpus().length}; kernel ${release()}; load average at start ${load} (the machine is shared with other jobs)`,
    `- uWSGI ${version('uwsgi', ['--version'])}, ${version('nginx', ['-v'])}, supervisord ${version('supervisord', ['--version'])}, ${version('wrk', ['--version'])}, Node ${process.version}`,
  ];
}

interface Env {
  dir: string;
  started: { setups: Setup[]; nginx: RunningNginx[] };
}

const BEGIN = '<!-- BEGIN npm run bench: this part is rewritten by `npm run bench` (bench/run.ts); the rest of the file is kept -->';
const END = '<!-- END npm run bench -->';

/** Replaces this script's part of docs/benchmarks.md, keeping the sections other benchmarks wrote by hand. */
function writeSection(file: string, section: string): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const begin = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const block = `${BEGIN}\n${section.trimEnd()}\n${END}`;
  const text = begin >= 0 && end > begin ? old.slice(0, begin) + block + old.slice(end + END.length) : `${old.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

async function serve(env: Env, setup: Setup): Promise<RunningNginx> {
  env.started.setups.push(setup);
  const nginx = await startNginx({ socketPath: setup.socketPath });
  env.started.nginx.push(nginx);
  await waitServing(async () => (await httpGet(nginx.port, '/', 5000)).status);
  return nginx;
}

async function stopAll(env: Env): Promise<void> {
  for (const n of env.started.nginx.splice(0)) await n.stop();
  for (const s of env.started.setups.splice(0)) await s.stop();
}

interface LoadRun {
  name: string;
  wrk: WrkResult;
  results: TimedResult[];
  marks: number[];
  inFlight: HttpResult[];
}

/** wrk and the timeline together for LOAD_S seconds; act(k) at each of the given seconds. */
async function underLoad(name: string, nginx: RunningNginx, at: number[], act: () => void, inFlightFirst = false): Promise<LoadRun> {
  const t0 = performance.now();
  const tl = timeline(nginx.port);
  const w = wrk(`http://127.0.0.1:${nginx.port}/`, LOAD_S);
  const marks: number[] = [];
  const inFlight: Promise<HttpResult>[] = [];
  for (const s of at) {
    if (inFlightFirst) {
      await sleep(Math.max(0, t0 + s * 1000 - 150 - performance.now()));
      inFlight.push(httpGet(nginx.port, '/sleep?s=2', 20000).catch((e: Error) => ({ status: 0, body: e.message })));
    }
    await sleep(Math.max(0, t0 + s * 1000 - performance.now()));
    act();
    marks.push(performance.now() - t0);
  }
  const wrkResult = await w;
  const results = await tl.stop();
  return { name, wrk: wrkResult, results, marks, inFlight: await Promise.all(inFlight) };
}

function killMaster(setup: Setup): void {
  const pid = setup.masterPid();
  if (pid !== null) process.kill(pid, 'SIGKILL');
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '?');
const badCount = (r: LoadRun): number => r.results.filter((x) => x.status !== 200).length;
const worst = (r: LoadRun): number => Math.max(...r.results.map((x) => x.latencyMs));

function loadTable(runs: LoadRun[], extra?: (r: LoadRun) => string): string[] {
  const head = `| setup | wrk requests | wrk non-2xx | wrk socket errors | wrk p50 | wrk p99 | wrk max | timeline requests | timeline failed | timeline max |${extra ? ' in-flight requests |' : ''}`;
  const rows = runs.map(
    (r) =>
      `| ${r.name} | ${r.wrk.requests} | ${r.wrk.non2xx} | ${r.wrk.socketErrors} | ${fmt(r.wrk.p50Ms, 1)} ms | ${fmt(r.wrk.p99Ms, 1)} ms | ${fmt(r.wrk.maxMs)} ms | ${r.results.length} | ${badCount(r)} | ${fmt(worst(r))} ms |${extra ? ` ${extra(r)} |` : ''}`,
  );
  return [head, head.replace(/[^|]+/g, '---'), ...rows];
}

async function restartsUnderLoad(env: Env): Promise<LoadRun[]> {
  const runs: LoadRun[] = [];
  const factories: [string, (dir: string) => Promise<Setup>][] = [
    ['uWSGI binds its socket itself, restarted in a loop', (d) => startRawLoop(d, 1)],
    ['supervisord [fcgi-program], uWSGI on fd 0', (d) => startSupervisord(d, 1)],
    ['sockvisor, uWSGI on fd://3', (d) => startSockvisorSetup(d, 1)],
  ];
  for (const [name, factory] of factories) {
    const dir = join(env.dir, `restarts-${runs.length}`);
    mkdirSync(dir);
    const setup = await factory(dir);
    const nginx = await serve(env, setup);
    console.log(`restarts under load: ${name}`);
    runs.push(await underLoad(name, nginx, [2, 4, 6, 8, 10], () => killMaster(setup)));
    await stopAll(env);
  }
  return runs;
}

async function reloads(env: Env): Promise<LoadRun[]> {
  const runs: LoadRun[] = [];
  const slow = { SLOW_IMPORT: '1' };
  const factories: [string, (dir: string) => Promise<Setup>][] = [
    ["uWSGI's own reload (SIGHUP to its master)", (d) => startRawLoop(d, 2, slow)],
    ["sockvisor's handover (SIGHUP to sockvisor)", (d) => startSockvisorSetup(d, 2, slow)],
  ];
  for (const [name, factory] of factories) {
    const dir = join(env.dir, `reload-${runs.length}`);
    mkdirSync(dir);
    const setup = await factory(dir);
    const nginx = await serve(env, setup);
    console.log(`reload with a 1 s import: ${name}`);
    runs.push(await underLoad(name, nginx, [2, 5, 8], () => process.kill(setup.reloadPid(), 'SIGHUP'), true));
    await sleep(2500); // the last in-flight request and the last old generation
    await stopAll(env);
  }
  return runs;
}

async function overhead(env: Env): Promise<{ raw: WrkResult[]; sv: WrkResult[] }> {
  const rawDir = join(env.dir, 'overhead-raw');
  const svDir = join(env.dir, 'overhead-sv');
  mkdirSync(rawDir);
  mkdirSync(svDir);
  const rawNginx = await serve(env, await startRawLoop(rawDir, 1));
  const svNginx = await serve(env, await startSockvisorSetup(svDir, 1));
  console.log('overhead: alternating wrk runs');
  const raw: WrkResult[] = [];
  const sv: WrkResult[] = [];
  for (let i = 0; i < 4; i++) {
    raw.push(await wrk(`http://127.0.0.1:${rawNginx.port}/`, 5));
    sv.push(await wrk(`http://127.0.0.1:${svNginx.port}/`, 5));
  }
  await stopAll(env);
  return { raw, sv };
}

interface Footprint {
  name: string;
  start: { rssKb: number; cpuMs: number };
  end: { rssKb: number; cpuMs: number };
}

async function footprint(env: Env): Promise<Footprint[]> {
  const svDir = join(env.dir, 'idle-sv');
  const supDir = join(env.dir, 'idle-sup');
  mkdirSync(svDir);
  mkdirSync(supDir);
  const sv = await startSockvisorSetup(svDir, 1);
  env.started.setups.push(sv);
  const sup = await startSupervisord(supDir, 1);
  env.started.setups.push(sup);
  // Past start-up: V8 compiles and collects for some seconds after a start, then sleeps.
  await sleep(SETTLE_S * 1000);
  console.log('footprint: 60 s idle');
  const targets = [
    { name: 'sockvisor (node)', pid: sv.supervisorPid! },
    { name: 'supervisord (python)', pid: sup.supervisorPid! },
  ];
  const start = targets.map((t) => usage(t.pid));
  await sleep(60000);
  const end = targets.map((t) => usage(t.pid));
  await stopAll(env);
  return targets.map((t, i) => ({ name: t.name, start: start[i]!, end: end[i]! }));
}

/** kill -9 of the child, then the time until the next child's first command ran (date +%s%N). */
async function restartLatency(setup: Setup, file: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  const lines = (): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  for (let i = 0; i < count; i++) {
    const before = lines().length;
    const pid = setup.masterPid();
    if (pid === null) throw new Error('no child to kill');
    const killedAt = performance.timeOrigin + performance.now();
    process.kill(pid, 'SIGKILL');
    const end = Date.now() + 10000;
    while (lines().length <= before) {
      if (Date.now() > end) throw new Error('no restart within 10 s');
      await sleep(2);
    }
    latencies.push(Number(BigInt(lines()[before]!) / 1000n) / 1000 - killedAt);
    await sleep(150); // past --healthy-after
  }
  return latencies;
}

/** The same child started straight from here (spawn → its date): what starting sh and date costs. */
async function baseline(dir: string, script: (file: string) => string, count: number): Promise<number[]> {
  const file = join(dir, 'baseline');
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = performance.timeOrigin + performance.now();
    const proc = spawn('/bin/sh', ['-c', script(file).replace('exec sleep 1000', 'true')], { stdio: 'ignore' });
    await new Promise((r) => proc.on('exit', r));
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    latencies.push(Number(BigInt(lines.at(-1)!) / 1000n) / 1000 - at);
  }
  return latencies;
}

async function restartLatencies(env: Env): Promise<{ sv: number[]; sup: number[]; base: number[]; command: string }> {
  const svDir = join(env.dir, 'latency-sv');
  const supDir = join(env.dir, 'latency-sup');
  mkdirSync(svDir);
  mkdirSync(supDir);
  const script = (file: string): string => `date +%s%N >> ${file}; exec sleep 1000`;
  const svFile = join(svDir, 'starts');
  const sv = await startSockvisorSetup(svDir, 1, {}, ['/bin/sh', '-c', script(svFile)], ['--healthy-after', '0.1']);
  env.started.setups.push(sv);
  await sleep(300);
  console.log('restart latency: sockvisor, 100 restarts');
  const svLat = await restartLatency(sv, svFile, 100);
  const base = await baseline(svDir, script, 100);
  const supFile = join(supDir, 'starts');
  // supervisord's config interpolates %(name)s: date's % must be doubled there.
  const sup = await startSupervisord(supDir, 1, {}, `/bin/sh -c "${script(supFile).replace(/%/g, '%%')}"`);
  env.started.setups.push(sup);
  await sleep(500);
  console.log('restart latency: supervisord, 20 restarts');
  const supLat = await restartLatency(sup, supFile, 20);
  await stopAll(env);
  return { sv: svLat, sup: supLat, base, command: script('FILE') };
}

/** (max - min) / max of the req/s of runs of the same setup: the noise floor of the comparison. */
const spread = (runs: WrkResult[]): number => {
  const rps = runs.map((r) => r.rps);
  return (Math.max(...rps) - Math.min(...rps)) / Math.max(...rps);
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function main(): Promise<void> {
  ensurePackages();
  const started = new Date();
  // makeTempDir: mode 0755, so that nginx's www-data reaches the sockets inside.
  const env: Env = { dir: await makeTempDir('sockvisor-bench-'), started: { setups: [], nginx: [] } };
  const machineLines = machine();
  try {
    const restarts = await restartsUnderLoad(env);
    const reload = await reloads(env);
    const over = await overhead(env);
    const idle = await footprint(env);
    const latency = await restartLatencies(env);
    const toSeries = (r: LoadRun): Series => ({ name: r.name, results: r.results, marks: r.marks });
    writeFileSync(
      join(docs, 'bench-restarts.svg'),
      latencyPlot(
        'nginx → unix socket → uWSGI, uWSGI master killed (kill -9) every 2 s',
        restarts.map(toSeries),
        'kill -9 of the uWSGI master',
      ),
    );
    writeFileSync(
      join(docs, 'bench-reload.svg'),
      latencyPlot('Reload of an app that takes 1 s to import, every 3 s', reload.map(toSeries), 'reload (SIGHUP)'),
    );

    const sum = (xs: WrkResult[]): number => xs.reduce((a, b) => a + b.requests, 0);
    const ratio = sum(over.sv) / sum(over.raw);
    const [svIdle, supIdle] = idle;
    const app = 'examples/app.py (GET / answers a line of text)';
    const md = [
      `Written by \`npm run bench\` (bench/run.ts) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; every figure below comes from that one run.`,
      'The machine is shared with other jobs running builds and tests, so absolute figures are noisy; compare the setups',
      'side by side within this run (each table was measured back to back, the overhead runs alternate).',
      '',
      '## Machine',
      '',
      ...machineLines,
      '',
      '## How the load is made',
      '',
      `- nginx (1 worker as www-data) → \`uwsgi_pass unix:SOCKET\` → uWSGI 2.0 with the python3 plugin, \`--master\`, the app ${app}.`,
      `- wrk gives throughput and the latency distribution: \`${restarts[0]!.wrk.command.replace(/http:\/\/\S+/, 'http://127.0.0.1:PORT/')}\`.`,
      '- wrk reports no per-request times (its Lua `response()` hook gets no latency), so the plots come from a second client',
      '  running at the same time: two Node.js loops of `http.request` with keep-alive off (a new connection per request),',
      '  each request recorded with its start time, latency and status.',
      '',
      '## Restarts under load',
      '',
      `wrk for ${LOAD_S} s while the uWSGI master (1 worker) is killed with \`kill -9\` at 2, 4, 6, 8 and 10 s.`,
      '- uWSGI alone: `uwsgi -s SOCKET --chmod-socket=660 --chown-socket=root:www-data ...` restarted at once in a loop (like `while true; do uwsgi ...; done`): it unlinks and re-binds the path at every start.',
      '- supervisord: `[fcgi-program:app]` with `socket=unix://SOCKET`, `socket_owner=root:www-data`, `socket_mode=0660`, `autorestart=true`, `startsecs=0`; supervisord binds the socket once and passes it to uWSGI as fd 0 (`--socket fd://0`).',
      '- sockvisor: `sockvisor -s SOCKET --socket-owner root:www-data -- uwsgi ...` (uWSGI gets `--socket fd://3`).',
      '',
      ...loadTable(restarts),
      '',
      'Why the others fail: uWSGI alone unlinks and re-binds the path at every start, so nginx meets a missing path, a refused',
      'connection or a socket not yet chmodded. supervisord holds the socket only while a process uses it: its socket manager',
      'closes it when the last process of the group is reaped and binds it again at the next spawn (supervisor/socket_manager.py,',
      "reference count), and it respawns on its own 1 s clock; connections queued in the old socket's backlog are lost too.",
      'sockvisor keeps the one listening socket open from start to stop: connections wait in its backlog until the next uWSGI accepts.',
      '',
      '![latency over time across restarts](bench-restarts.svg)',
      '',
      '## Reload of an app that takes 1 s to import',
      '',
      `\`SLOW_IMPORT=1\` makes the app sleep 1 s at import, like a big Django project; uWSGI runs 2 workers. wrk for ${LOAD_S} s, a reload at 2, 5 and 8 s,`,
      'and 150 ms before each reload a request to `/sleep?s=2` that is still in flight when the reload starts.',
      "- uWSGI's own reload: `kill -HUP` to the master of `uwsgi -s SOCKET ...` (graceful: workers finish, then the master re-execs and imports the app again).",
      "- sockvisor's handover: `kill -HUP` to sockvisor: a second uWSGI starts on the held socket, imports the app while the first one serves, says READY=1, then the first gets SIGPWR (mapped to uWSGI's graceful shutdown) and finishes its requests.",
      '',
      ...loadTable(reload, (r) => r.inFlight.map((x) => x.status).join(', ')),
      '',
      '![latency over time across reloads](bench-reload.svg)',
      '',
      '## Overhead',
      '',
      'Requests per second through nginx, uWSGI binding its own socket vs the same uWSGI behind sockvisor, 4 alternating wrk runs of 5 s each',
      '(`wrk -t2 -c10 -d5s --latency`). sockvisor is not in the data path: nginx talks to uWSGI on the socket sockvisor created.',
      '',
      '| run | uWSGI alone, req/s | behind sockvisor, req/s |',
      '|---|---|---|',
      ...over.raw.map((r, i) => `| ${i + 1} | ${fmt(r.rps)} | ${fmt(over.sv[i]!.rps)} |`),
      `| total requests | ${sum(over.raw)} | ${sum(over.sv)} |`,
      '',
      `Ratio sockvisor / alone: **${ratio.toFixed(3)}** (goal ≥ 0.98). For scale, the runs of uWSGI alone differ from one another by up to ${fmt(spread(over.raw) * 100, 1)} % on this shared machine.`,
      '',
      '## Footprint at idle',
      '',
      `One uWSGI child (1 worker), no requests, 60 s after ${SETTLE_S} s of settling; resident memory (VmRSS) and CPU time (utime + stime, 10 ms ticks) of the supervising process itself, both measured over the same 60 s.`,
      '',
      '| supervisor | RSS at start | RSS after 60 s | CPU time used in 60 s |',
      '|---|---|---|---|',
      ...[svIdle!, supIdle!].map(
        (f) =>
          `| ${f.name} | ${(f.start.rssKb / 1024).toFixed(1)} MB | ${(f.end.rssKb / 1024).toFixed(1)} MB | ${fmt(f.end.cpuMs - f.start.cpuMs)} ms |`,
      ),
      '',
      'Goals for sockvisor: under 60 MB, under 50 ms of CPU (it polls nothing: a pidfd and a datagram socket on the event loop).',
      '',
      '## Restart latency',
      '',
      `From \`kill -9\` of the child to the new child's first command: the child is \`/bin/sh -c '${latency.command}'\`, so each start appends`,
      'CLOCK_REALTIME in ns and the bench subtracts the moment it sent the kill (it includes starting sh and date: an upper bound).',
      'sockvisor with `--healthy-after 0.1` (each run counts as healthy, so no backoff), 100 restarts; supervisord `[program]` with `autorestart=true`, `startsecs=0`, 20 restarts (it restarts on its own clock).',
      '',
      '| supervisor | restarts | median | p90 | max |',
      '|---|---|---|---|---|',
      `| sockvisor | ${latency.sv.length} | ${fmt(median(latency.sv), 1)} ms | ${fmt(pct(latency.sv, 90), 1)} ms | ${fmt(Math.max(...latency.sv), 1)} ms |`,
      `| supervisord | ${latency.sup.length} | ${fmt(median(latency.sup), 1)} ms | ${fmt(pct(latency.sup, 90), 1)} ms | ${fmt(Math.max(...latency.sup), 1)} ms |`,
      `| (baseline: the same sh started by Node's spawn, no death to notice) | ${latency.base.length} | ${fmt(median(latency.base), 1)} ms | ${fmt(pct(latency.base, 90), 1)} ms | ${fmt(Math.max(...latency.base), 1)} ms |`,
      '',
      `sockvisor's own part (median minus the baseline's median): **${fmt(median(latency.sv) - median(latency.base), 1)} ms**.`,
      '',
      'Goal for sockvisor: median under 10 ms.',
      '',
      '## Run it',
      '',
      '```sh',
      'npm run bench   # as root; installs scripts/bench-packages.txt (wrk, supervisor) if missing; about 4 minutes',
      '```',
      '',
    ];
    writeSection(join(docs, 'benchmarks.md'), md.join('\n'));
    console.log(`wrote docs/benchmarks.md, docs/bench-restarts.svg, docs/bench-reload.svg`);
  } finally {
    await stopAll(env);
    await cleanupTempDirs();
  }
}

if (process.argv[2] === 'latency') {
  // A quick check of one part: `node dist/bench/run.js latency` prints, writes nothing.
  const env: Env = { dir: await makeTempDir('sockvisor-bench-'), started: { setups: [], nginx: [] } };
  try {
    const l = await restartLatencies(env);
    console.log(
      `sockvisor median ${median(l.sv).toFixed(1)} ms, supervisord median ${median(l.sup).toFixed(1)} ms, sh+date alone ${median(l.base).toFixed(1)} ms`,
    );
  } finally {
    await stopAll(env);
    await cleanupTempDirs();
  }
} else {
  await main();
}
process.exit(0);
