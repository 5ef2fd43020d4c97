// Soak: kill -9 the uWSGI master over and over (no backoff: --restart-delay 0) and compare
// sockvisor's RSS, open fds, zombie children and leftover processes before and after.
// Each round waits for the new master's worker, so every kill also orphans a worker that
// sockvisor must reap. With --compare, supervisord's [fcgi-program] (which also holds the
// socket and passes it as fd 0) goes through the same rounds, in the same run.
//
//   node dist/bench/soak.js [--restarts 1000] [--compare] [--json]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGetUnix } from '../test/helpers/http.js';
import {
  childrenOf,
  isAlive,
  processGroupMembers,
  statusField,
  waitGone,
  waitUntil,
  workersOf,
  zombieChildrenOf,
} from '../test/helpers/proc.js';
import { childPid, startSockvisor } from '../test/helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../test/helpers/tmp.js';
import { UWSGI, uwsgiArgs } from '../test/helpers/uwsgi.js';

/** What `ps` and `ls /proc/PID/fd` would show of the supervising process. */
export interface Sample {
  rssKiB: number;
  fds: number;
  /** children in state Z: exited, never reaped */
  zombies: number;
  children: number;
}

/** One supervisor's soak: the samples before and after, and what was left. */
export interface SoakResult {
  supervisor: string;
  restarts: number;
  seconds: number;
  before: Sample;
  after: Sample;
  /** peak RSS over the run (VmHWM) */
  peakRssKiB: number;
  /** RSS after each tenth of the rounds: growth that levels off is the heap settling, not a leak */
  rssTrendKiB: number[];
  /** orphaned workers the supervisor had to kill (sockvisor logs each; null when unknown) */
  orphansKilled: number | null;
  /** processes of killed masters' groups still alive at the end (workers nobody killed) */
  leftovers: number;
  /** the socket file kept its inode throughout */
  sameSocket: boolean;
}

/** A supervisor under test: its pid, the current uWSGI master, and how to stop it. */
interface Subject {
  name: string;
  pid: number;
  orphansKilled(): number | null;
  master(after?: number): Promise<number>;
  stop(): Promise<void>;
}

/** A kB figure of /proc/PID/status (VmRSS, VmHWM); throws when the process is gone. */
function kib(pid: number, field: string): number {
  const value = statusField(pid, field);
  if (value === null) throw new Error(`no ${field} for pid ${pid}: gone, or a zombie`);
  return value;
}

/** RSS, fd count, zombie children and children of pid, as /proc shows them now. */
export function sample(pid: number): Sample {
  return {
    rssKiB: kib(pid, 'VmRSS'),
    fds: readdirSync(`/proc/${pid}/fd`).length,
    zombies: zombieChildrenOf(pid).length,
    children: childrenOf(pid).length,
  };
}

/** Waits until the master has forked its worker (what each round needs: an orphan to leave). */
async function waitWorker(master: number): Promise<void> {
  if (!(await waitUntil(() => workersOf(master).length > 0, 15000))) {
    throw new Error(`uWSGI master ${master} started no worker`);
  }
}

/** Waits until the master has a worker that answers over the socket. */
async function waitServing(socket: string, master: number): Promise<void> {
  await waitWorker(master);
  const { status } = await httpGetUnix(socket, '/');
  if (status !== 200) throw new Error(`uWSGI master ${master} answered ${status}`);
}

async function sockvisorSubject(socket: string): Promise<Subject> {
  const sv = startSockvisor([
    '--restart-delay',
    '0',
    '--give-up-after',
    '0',
    '-s',
    socket,
    '--',
    UWSGI,
    ...uwsgiArgs(['--http-socket', socket]),
  ]);
  return {
    name: 'sockvisor',
    pid: sv.pid,
    orphansKilled: () => sv.records.filter((r) => r.event === 'orphan.killed').length,
    master: (after) => childPid(sv, after),
    stop: async () => {
      await sv.stop('SIGTERM');
    },
  };
}

/** supervisord with the same uWSGI as an [fcgi-program]: supervisord holds the socket, uWSGI adopts fd 0. */
async function supervisordSubject(dir: string, socket: string): Promise<Subject> {
  const conf = join(dir, 'supervisord.conf');
  const args = uwsgiArgs(['--http-socket', 'fd://0']);
  writeFileSync(
    conf,
    `[supervisord]
nodaemon=true
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}

[fcgi-program:app]
command=${UWSGI} ${args.join(' ')}
socket=unix://${socket}
socket_mode=0660
process_name=%(program_name)s
numprocs=1
autorestart=true
startsecs=0
startretries=1000000
stopsignal=INT
stdout_logfile=${dir}/app.log
redirect_stderr=true
`,
  );
  if (!['/usr/bin/supervisord', '/usr/local/bin/supervisord'].some((file) => existsSync(file))) {
    throw new Error('--compare runs supervisord, which is not installed: apt-get install supervisor (Debian), or leave --compare out.');
  }
  const proc = spawn('supervisord', ['-c', conf], { stdio: 'ignore' });
  const pid = proc.pid!;
  const masterAfter = async (after?: number): Promise<number> => {
    let found = 0;
    const ok = await waitUntil(() => {
      found = childrenOf(pid).find((c) => c !== after && isAlive(c)) ?? 0;
      return found > 0;
    }, 15000);
    if (!ok) throw new Error(`supervisord started no uWSGI after ${after ?? 'start'}`);
    return found;
  };
  return {
    name: 'supervisord [fcgi-program]',
    pid,
    orphansKilled: () => null,
    master: masterAfter,
    stop: async () => {
      proc.kill('SIGTERM');
      if (!(await waitGone(pid, 15000))) proc.kill('SIGKILL');
    },
  };
}

async function soak(subject: Subject, socket: string, restarts: number, settleMs: number): Promise<SoakResult & { left: number[] }> {
  let master = await subject.master();
  await waitServing(socket, master);
  const inode = statSync(socket).ino;
  await new Promise((r) => setTimeout(r, settleMs));
  const before = sample(subject.pid);
  const groups: number[] = [];
  const rssTrendKiB: number[] = [];
  const started = performance.now();
  for (let i = 0; i < restarts; i++) {
    await waitWorker(master);
    groups.push(master);
    process.kill(master, 'SIGKILL');
    master = await subject.master(master);
    if ((i + 1) % Math.max(1, Math.floor(restarts / 10)) === 0) rssTrendKiB.push(kib(subject.pid, 'VmRSS'));
  }
  const seconds = (performance.now() - started) / 1000;
  await waitServing(socket, master);
  // Orphaned workers get a grace period before they are killed: let the last ones go.
  await new Promise((r) => setTimeout(r, settleMs));
  const after = sample(subject.pid);
  const left = groups.flatMap((pgid) => processGroupMembers(pgid));
  return {
    supervisor: subject.name,
    restarts,
    seconds,
    before,
    after,
    peakRssKiB: kib(subject.pid, 'VmHWM'),
    rssTrendKiB,
    orphansKilled: subject.orphansKilled(),
    leftovers: left.length,
    sameSocket: statSync(socket).ino === inode,
    left,
  };
}

/** Runs the soak for sockvisor (and supervisord with compare); every process it starts is stopped. */
export async function runSoak(options: { restarts: number; compare?: boolean; settleMs?: number }): Promise<SoakResult[]> {
  const settleMs = options.settleMs ?? 2500;
  const results: SoakResult[] = [];
  const dir = await makeTempDir('sockvisor-soak-');
  try {
    const kinds = options.compare ? ['sockvisor', 'supervisord'] : ['sockvisor'];
    for (const kind of kinds) {
      const socket = join(dir, `${kind}.sock`);
      const subject = kind === 'sockvisor' ? await sockvisorSubject(socket) : await supervisordSubject(dir, socket);
      let left: number[] = [];
      try {
        const { left: found, ...result } = await soak(subject, socket, options.restarts, settleMs);
        left = found;
        results.push(result);
      } finally {
        await subject.stop();
        // Workers a supervisor left running: the benchmark started them, it ends them (by pid).
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        rmSync(socket, { force: true });
      }
    }
  } finally {
    await cleanupTempDirs();
  }
  return results;
}

function table(results: SoakResult[]): string {
  const rows = [
    '| supervisor | restarts | time | RSS before → after (growth) | peak RSS | open fds before → after | zombie children before → after | orphaned workers it killed | workers left alive |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const mb = (kib: number): string => (kib / 1024).toFixed(1);
    rows.push(
      `| ${r.supervisor} | ${r.restarts} | ${r.seconds.toFixed(1)} s (${(r.restarts / r.seconds).toFixed(1)}/s) | ${mb(r.before.rssKiB)} → ${mb(r.after.rssKiB)} MB (${r.after.rssKiB >= r.before.rssKiB ? '+' : ''}${mb(r.after.rssKiB - r.before.rssKiB)}) | ${mb(r.peakRssKiB)} MB | ${r.before.fds} → ${r.after.fds} | ${r.before.zombies} → ${r.after.zombies} | ${r.orphansKilled ?? 'n/a'} | ${r.leftovers} |`,
    );
  }
  rows.push('', 'RSS (MB) after each tenth of the restarts:');
  for (const r of results) rows.push(`- ${r.supervisor}: ${r.rssTrendKiB.map((kib) => (kib / 1024).toFixed(1)).join(', ')}`);
  return rows.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const restarts = Number(value('--restarts') ?? 1000);
  const results = await runSoak({ restarts, compare: argv.includes('--compare') });
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const machine = `${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}, ${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'cpu'} x${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'}, node ${process.version}`;
  process.stdout.write(`${machine}\n\n${table(results)}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main(process.argv.slice(2));
}
