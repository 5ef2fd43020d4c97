// Load: wrk for throughput and latency distributions (what people quote), and a timeline client of
// our own for latency over time. wrk reports no per-request times (its Lua response() hook gets no
// latency), so the timeline comes from Node http requests, keep-alive off (a new connection each,
// like nginx to its upstream), each with its start time, latency and status.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadLoop, type TimedResult } from '../../test/helpers/http.js';

const run = promisify(execFile);

export interface WrkResult {
  command: string;
  requests: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60000;
}

/** `wrk -t2 -c10 -dN --latency URL`, parsed. */
export async function wrk(url: string, seconds: number, connections = 10): Promise<WrkResult> {
  const args = ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', url];
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  const num = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    command: `wrk ${args.join(' ')}`,
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    p50Ms: toMs(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    p99Ms: toMs(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    maxMs: toMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1] ?? ''),
  };
}

/** Two sequential request loops (the timeline) until stop(); results merged in time order. */
export function timeline(port: number): { stop: () => Promise<TimedResult[]> } {
  const loops = [loadLoop(port), loadLoop(port)];
  return {
    stop: async () => {
      const all = (await Promise.all(loops.map((l) => l.stop()))).flat();
      return all.sort((a, b) => a.at - b.at);
    },
  };
}

export type { TimedResult };
