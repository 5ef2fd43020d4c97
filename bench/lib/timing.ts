// Where a slow request comes from: nginx logging every request with its timing and the uWSGI worker
// that answered (the example app's X-Worker-Pid header), the CPU time of a process tree and of the
// whole machine sampled over a run, and sockvisor's own json log read back as timed events.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxConfWith, type NginxOptions } from '../../test/helpers/nginx.js';

/** One request as nginx logged it: when it ended (epoch ms), its time in nginx, and who answered. */
export interface NginxRequest {
  endMs: number;
  latencyMs: number;
  /** nginx's connect() to the socket (0 when the connection was accepted into the backlog at once) */
  connectMs: number;
  status: number;
  /** the uWSGI worker that answered (X-Worker-Pid), or null */
  workerPid: number | null;
  uri: string;
}

/**
 * nginx options for serve(): the usual location passing to the socket, plus an access log of every
 * request's end time, request time, upstream connect time, status and X-Worker-Pid (one write per
 * request, as nginx's default access log does: readable at once).
 */
export function timingNginx(socketPath: string, extraHttp = ''): Omit<NginxOptions, 'socketPath'> {
  return {
    files: (prefix, port) => ({
      'nginx.conf': nginxConfWith(prefix, port, {
        http:
          "log_format timing '$msec $request_time $upstream_connect_time $status $upstream_http_x_worker_pid $request_uri';\n  " +
          extraHttp,
        server:
          `access_log ${join(prefix, 'timing.log')} timing;\n    ` +
          `location / {\n      include /etc/nginx/uwsgi_params;\n      uwsgi_pass unix:${socketPath};\n    }`,
      }),
    }),
  };
}

/** The requests of timingNginx's log, optionally only those that ended after sinceMs (epoch ms). */
export function readTimingLog(prefix: string, sinceMs = 0): NginxRequest[] {
  let text = '';
  try {
    text = readFileSync(join(prefix, 'timing.log'), 'utf8');
  } catch {
    return [];
  }
  const out: NginxRequest[] = [];
  for (const line of text.split('\n')) {
    const [msec, rt, ct, status, pid, uri] = line.split(' ');
    if (!msec || !rt || !status) continue;
    const endMs = Number(msec) * 1000;
    if (endMs < sinceMs) continue;
    const worker = Number(pid);
    out.push({
      endMs,
      latencyMs: Number(rt) * 1000,
      connectMs: ct && ct !== '-' ? Number(ct.split(',')[0]) * 1000 : 0,
      status: Number(status),
      workerPid: Number.isInteger(worker) && worker > 0 ? worker : null,
      uri: uri ?? '',
    });
  }
  return out;
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  cpuTicks: number;
  minorFaults: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const fields = text.slice(close + 2).split(' ');
    return {
      pid,
      ppid: Number(fields[1]),
      comm: text.slice(text.indexOf('(') + 1, close),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      minorFaults: Number(fields[7]),
    };
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat's cpu line). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuSample {
  atMs: number;
  /** every process below the roots: its parent, name and CPU time so far (USER_HZ ticks, 10 ms) */
  procs: Map<number, { ppid: number; comm: string; cpuTicks: number; minorFaults: number }>;
  machine: { busy: number; total: number };
}

/** Samples the process trees below the roots (and the machine's CPU) every intervalMs until stop(). */
export function sampleTrees(roots: () => number[], intervalMs = 100): { stop: () => CpuSample[] } {
  const samples: CpuSample[] = [];
  const take = (): void => {
    const stats = readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map((n) => readStat(Number(n)))
      .filter((s): s is ProcStat => s !== null);
    const byParent = new Map<number, ProcStat[]>();
    for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
    const procs: CpuSample['procs'] = new Map();
    const visit = (pid: number): void => {
      for (const child of byParent.get(pid) ?? []) {
        procs.set(child.pid, { ppid: child.ppid, comm: child.comm, cpuTicks: child.cpuTicks, minorFaults: child.minorFaults });
        visit(child.pid);
      }
    };
    for (const root of roots()) {
      const self = stats.find((s) => s.pid === root);
      if (self) procs.set(root, { ppid: self.ppid, comm: self.comm, cpuTicks: self.cpuTicks, minorFaults: self.minorFaults });
      visit(root);
    }
    samples.push({ atMs: Date.now(), procs, machine: machineTicks() });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/**
 * CPU time (ms) each process used from the last sample at or before fromMs to the first at or after toMs (so a
 * window shorter than the sampling interval still spans at least one interval), the machine's busy share, and that span.
 */
export function cpuBetween(
  samples: CpuSample[],
  fromMs: number,
  toMs: number,
): { perPid: Map<number, number>; machineBusy: number; spanMs: number } {
  const first = [...samples].reverse().find((s) => s.atMs <= fromMs) ?? samples[0]!;
  const last = samples.find((s) => s.atMs >= toMs) ?? samples.at(-1)!;
  const perPid = new Map<number, number>();
  for (const [pid, p] of last.procs) perPid.set(pid, (p.cpuTicks - (first.procs.get(pid)?.cpuTicks ?? p.cpuTicks)) * 10);
  const total = last.machine.total - first.machine.total;
  return { perPid, machineBusy: total > 0 ? (last.machine.busy - first.machine.busy) / total : 0, spanMs: last.atMs - first.atMs };
}

/** The pids below root (root included) in any sample: a process tree over a whole run. */
export function treeOf(samples: CpuSample[], root: number): Set<number> {
  const parent = parents(samples);
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) if (p === root) return true;
    return false;
  };
  return new Set([...parent.keys()].filter(inTree));
}

/** The parent of every pid ever seen in the samples (a worker maps to its master). */
export function parents(samples: CpuSample[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) for (const [pid, p] of s.procs) if (!out.has(pid)) out.set(pid, p.ppid);
  return out;
}

/** One line of sockvisor's json log: its event, time (epoch ms) and fields. */
export interface LogEvent {
  event: string;
  time: number;
  pid?: number;
  generation?: number;
  role?: string;
  oldPid?: number | null;
  [key: string]: unknown;
}

/** The events of sockvisor's json log (`--log-format json`), in order. */
export function readJsonLog(file: string): LogEvent[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"event"'))
    .map((l) => JSON.parse(l) as LogEvent);
}

/**
 * nginx's upstream errors by cause: `connect() failed (11: Resource temporarily unavailable)`, `recv() failed (104: ...)`;
 * only lines about the upstream (the socket), not a client's own resets.
 */
export function upstreamErrors(errorLog: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of errorLog.split('\n')) {
    if (!line.includes('upstream')) continue;
    const m = /\] \d+#\d+: \*\d+ (\w+\(\) (?:to \S+ )?failed \(\d+: [^)]+\)|upstream prematurely closed connection)/.exec(line);
    if (!m) continue;
    const cause = m[1]!.replace(/ to \S+/, '');
    out.set(cause, (out.get(cause) ?? 0) + 1);
  }
  return out;
}
