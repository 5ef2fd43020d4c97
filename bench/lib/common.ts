// What every section of `npm run bench` shares: the run's temporary folder and what it started,
// nginx in front of a setup, load with marked actions, the load table, and small statistics.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet, type HttpResult } from '../../test/helpers/http.js';
import { startNginx, type NginxOptions, type RunningNginx } from '../../test/helpers/nginx.js';
import { timeline, wrk, type TimedResult, type WrkResult } from './load.js';
import { waitServing, type Setup } from './setups.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The bench run's temporary folder, and what a section started (stopped by stopAll, also on failure). */
export interface Env {
  dir: string;
  started: { setups: Setup[]; nginx: RunningNginx[] };
}

/** A new folder for one setup of a section, inside the run's temporary folder. */
export function sectionDir(env: Env, name: string): string {
  const dir = join(env.dir, name);
  mkdirSync(dir);
  return dir;
}

/** nginx in front of the setup's socket, once it answers 200. */
export async function serve(env: Env, setup: Setup, nginxOptions: Omit<NginxOptions, 'socketPath'> = {}): Promise<RunningNginx> {
  env.started.setups.push(setup);
  const nginx = await startNginx({ socketPath: setup.socketPath, ...nginxOptions });
  env.started.nginx.push(nginx);
  await waitServing(async () => (await httpGet(nginx.port, '/', 5000)).status);
  return nginx;
}

export async function stopAll(env: Env): Promise<void> {
  for (const n of env.started.nginx.splice(0)) await n.stop();
  for (const s of env.started.setups.splice(0)) await s.stop();
}

export interface LoadRun {
  name: string;
  wrk: WrkResult;
  results: TimedResult[];
  marks: number[];
  inFlight: HttpResult[];
}

/** wrk and the timeline together for `seconds`; act() at each of the given seconds. */
export async function underLoad(
  name: string,
  nginx: RunningNginx,
  seconds: number,
  at: number[],
  act: () => void,
  inFlightFirst = false,
): Promise<LoadRun> {
  const t0 = performance.now();
  const tl = timeline(nginx.port);
  const w = wrk(`http://127.0.0.1:${nginx.port}/`, seconds);
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

export function killMaster(setup: Setup): void {
  const pid = setup.masterPid();
  if (pid !== null) process.kill(pid, 'SIGKILL');
}

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '?');
export const badCount = (r: LoadRun): number => r.results.filter((x) => x.status !== 200).length;
export const worst = (r: LoadRun): number => Math.max(...r.results.map((x) => x.latencyMs));

export function loadTable(runs: LoadRun[], extra?: (r: LoadRun) => string): string[] {
  const head = `| setup | wrk requests | wrk non-2xx | wrk socket errors | wrk p50 | wrk p99 | wrk max | timeline requests | timeline failed | timeline max |${extra ? ' in-flight requests |' : ''}`;
  const rows = runs.map(
    (r) =>
      `| ${r.name} | ${r.wrk.requests} | ${r.wrk.non2xx} | ${r.wrk.socketErrors} | ${fmt(r.wrk.p50Ms, 1)} ms | ${fmt(r.wrk.p99Ms, 1)} ms | ${fmt(r.wrk.maxMs)} ms | ${r.results.length} | ${badCount(r)} | ${fmt(worst(r))} ms |${extra ? ` ${extra(r)} |` : ''}`,
  );
  return [head, head.replace(/[^|]+/g, '---'), ...rows];
}

/** (max - min) / max of the req/s of runs of the same setup: the noise floor of a comparison. */
export const spread = (runs: WrkResult[]): number => {
  const rps = runs.map((r) => r.rps);
  return (Math.max(...rps) - Math.min(...rps)) / Math.max(...rps);
};

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
export const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** One section of docs/benchmarks.md: measured by run(), which returns its markdown (from its `## ` heading on). */
export interface Section {
  /** the name given to `node dist/bench/run.js NAME` to run this section alone */
  name: string;
  run(env: Env): Promise<string[]>;
}
