// From starting sockvisor to the exec of its child, against the same child spawned by a bare Node
// script (what Node itself costs) and by supervisord; then the app-level view: from start to the
// first 200 answered on the socket, uWSGI alone against uWSGI behind sockvisor.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { probeBytes } from '../../src/health/probe.js';
import { isAlive, killGroup, waitGone } from '../../test/helpers/proc.js';
import { cliPath } from '../../test/helpers/sockvisor.js';
import { UWSGI, uwsgiArgs } from '../../test/helpers/uwsgi.js';
import { fmt, median, pct, sectionDir, sleep, type Section } from '../lib/common.js';
import { buildStamp, readStamps } from '../lib/stamp.js';

/** Runs per setup; the setups alternate within each round so that load on the machine hits them alike. */
const RUNS = 21;

/** The goal of issue 16: sockvisor's own part of its start, beyond what starting Node costs. */
const GOAL_MS = 40;

const nowNs = (): bigint => process.hrtime.bigint();
const ms = (ns: bigint): number => Number(ns) / 1e6;

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
}

/** Stops a detached process group: signal to its leader, up to 10 s, then SIGKILL to the group. */
async function stopGroup(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = proc.pid!;
  if (isAlive(pid)) process.kill(pid, signal);
  await waitGone(pid, 10000);
  killGroup(pid);
  await exited(proc);
}

/**
 * Waits for the stamp child to append its line (the n-th of file) and returns the ms from t0. The
 * stamp holds the time, so the polling only has to find it: slow polling leaves the CPU to what is measured.
 */
async function stampedAfter(file: string, n: number, t0: bigint, timeoutMs = 20000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const stamps = readStamps(file);
    if (stamps.length >= n) return ms(stamps[n - 1]!.atNs - t0);
    if (Date.now() > end) throw new Error(`no stamp in ${file} within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

/** A program started in a group of its own, with stdio ignored (sockvisor's log goes nowhere: json to /dev/null). */
function startDetached(file: string, args: string[]): ChildProcess {
  return spawn(file, args, { detached: true, stdio: 'ignore' });
}

interface ExecSetups {
  bare(): Promise<number>;
  sockvisor(): Promise<number>;
  supervisord(): Promise<number>;
}

function execSetups(dir: string, stamp: string): ExecSetups {
  const bareScript = join(dir, 'bare.mjs');
  // The baseline: a new Node process that spawns the child at once, as sockvisor does in the end.
  writeFileSync(
    bareScript,
    "import { spawn } from 'node:child_process';\n" +
      "spawn(process.argv[2], process.argv.slice(3), { stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 1));\n",
  );
  let runs = 0;
  return {
    async bare() {
      const file = join(dir, 'bare.stamps');
      const before = readStamps(file).length;
      const t0 = nowNs();
      const proc = startDetached(process.execPath, [bareScript, stamp, file]);
      // It exits once the child has: waiting for that costs the measured processes no CPU.
      await Promise.race([exited(proc), sleep(10000)]);
      await stopGroup(proc, 'SIGKILL');
      return stampedAfter(file, before + 1, t0);
    },
    async sockvisor() {
      const file = join(dir, 'sockvisor.stamps');
      const socket = join(dir, `sv-${runs++}.sock`);
      const before = readStamps(file).length;
      const t0 = nowNs();
      const args = [cliPath, '--log-format', 'json', '-s', socket, '--restart', 'never', '--', stamp, file];
      const proc = startDetached(process.execPath, args);
      // --restart never: sockvisor removes its socket and exits once the child has.
      await Promise.race([exited(proc), sleep(10000)]);
      await stopGroup(proc, 'SIGTERM');
      return stampedAfter(file, before + 1, t0);
    },
    async supervisord() {
      const file = join(dir, 'supervisord.stamps');
      const conf = join(dir, 'supervisord.conf');
      writeFileSync(
        conf,
        `[supervisord]\nnodaemon=true\nlogfile=${join(dir, 'supervisord.log')}\npidfile=${join(dir, 'supervisord.pid')}\n` +
          `childlogdir=${dir}\n[program:stamp]\ncommand=${stamp} ${file}\nautostart=true\nautorestart=false\nstartsecs=0\n` +
          `stdout_logfile=${join(dir, 'stamp.log')}\nredirect_stderr=true\n`,
      );
      const before = readStamps(file).length;
      const t0 = nowNs();
      const proc = startDetached('/usr/bin/supervisord', ['-c', conf]);
      const latency = await stampedAfter(file, before + 1, t0);
      // The child has run and gone; supervisord would take up to 2 s of its 1 s clock to notice and to obey SIGTERM.
      await stopGroup(proc, 'SIGKILL');
      return latency;
    },
  };
}

/** One uwsgi-protocol GET / on the unix socket: true when the answer starts with a 200 status line. */
function answers200(path: string, request: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    let got = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(5000, () => done(false));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (got.includes('\r\n')) done(/^HTTP\/1\.\d 200 /.test(got));
    });
    socket.on('end', () => done(false));
    socket.on('error', () => done(false));
  });
}

/** ms from t0 to the first 200 on path, polling every 2 ms (a connect to a missing or unbound path fails at once). */
async function first200(path: string, t0: bigint, timeoutMs = 30000): Promise<number> {
  const request = probeBytes({ protocol: 'uwsgi', path: '/' });
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path) && (await answers200(path, request))) return ms(nowNs() - t0);
    if (Date.now() > end) throw new Error(`no 200 on ${path} within ${timeoutMs / 1000} s`);
    await sleep(2);
  }
}

interface AppSetups {
  alone(): Promise<number>;
  sockvisor(): Promise<number>;
}

function appSetups(dir: string): AppSetups {
  let runs = 0;
  return {
    async alone() {
      const socket = join(dir, `alone-${runs++}.sock`);
      const t0 = nowNs();
      const proc = startDetached(UWSGI, uwsgiArgs(['-s', socket]));
      try {
        return await first200(socket, t0);
      } finally {
        await stopGroup(proc, 'SIGINT');
      }
    },
    async sockvisor() {
      const socket = join(dir, `sv-${runs++}.sock`);
      const t0 = nowNs();
      const proc = startDetached(process.execPath, [cliPath, '--log-format', 'json', '-s', socket, '--', UWSGI, ...uwsgiArgs()]);
      try {
        return await first200(socket, t0);
      } finally {
        await stopGroup(proc, 'SIGTERM');
      }
    },
  };
}

interface Figures {
  bare: number[];
  sockvisor: number[];
  supervisord: number[];
  uwsgiAlone: number[];
  uwsgiSockvisor: number[];
}

async function measure(dir: string): Promise<Figures> {
  const stamp = buildStamp(dir);
  mkdirSync(join(dir, 'exec'));
  mkdirSync(join(dir, 'app'));
  const exec = execSetups(join(dir, 'exec'), stamp);
  const app = appSetups(join(dir, 'app'));
  const f: Figures = { bare: [], sockvisor: [], supervisord: [], uwsgiAlone: [], uwsgiSockvisor: [] };
  // One round untimed: the first start of each reads its files from disk into the page cache.
  await exec.bare();
  await exec.sockvisor();
  await app.alone();
  await app.sockvisor();
  console.log(`start latency: ${RUNS} rounds of bare Node, sockvisor, supervisord`);
  for (let i = 0; i < RUNS; i++) {
    f.bare.push(await exec.bare());
    f.sockvisor.push(await exec.sockvisor());
    f.supervisord.push(await exec.supervisord());
  }
  console.log(`start latency: ${RUNS} rounds of uWSGI alone, uWSGI behind sockvisor`);
  for (let i = 0; i < RUNS; i++) {
    f.uwsgiAlone.push(await app.alone());
    f.uwsgiSockvisor.push(await app.sockvisor());
  }
  return f;
}

const row = (name: string, xs: number[]): string =>
  `| ${name} | ${xs.length} | ${fmt(median(xs), 1)} ms | ${fmt(pct(xs, 90), 1)} ms | ${fmt(Math.min(...xs), 1)} ms | ${fmt(Math.max(...xs), 1)} ms |`;

export const startLatency: Section = {
  name: 'start-latency',
  async run(env) {
    const f = await measure(sectionDir(env, 'start-latency'));
    const own = median(f.sockvisor) - median(f.bare);
    const appOwn = median(f.uwsgiSockvisor) - median(f.uwsgiAlone);
    return [
      '## Start latency',
      '',
      'From the start of a process to the exec of its child. The child is a static C program (bench/lib/stamp.c) that appends',
      "CLOCK_MONOTONIC in ns to a file as its first act; the bench takes the same clock (Node's `process.hrtime.bigint()`) just",
      `before spawning, so no shell or date is counted. ${RUNS} rounds, the setups alternating within each round (A B C A B C),`,
      'after one untimed round that brings the files into the page cache.',
      '',
      '- bare Node: `node bare.mjs STAMP FILE`, a script file whose only code is `child_process.spawn` of the child: what starting Node costs.',
      '- sockvisor: `node dist/src/cli/sockvisor.js --log-format json -s SOCKET --restart never -- STAMP FILE` (log to /dev/null).',
      '- supervisord: `supervisord -c CONF` with a `[program]` of the child (`startsecs=0`, `autorestart=false`): Python, and its',
      '  first tick of a 1 s clock before it spawns anything (stopped with SIGKILL once the child has run, to spare its 1-2 s stop).',
      '',
      '| setup | runs | median | p90 | min | max |',
      '|---|---|---|---|---|---|',
      row('bare Node spawning the child', f.bare),
      row('sockvisor', f.sockvisor),
      row('supervisord', f.supervisord),
      '',
      `**sockvisor's own part: ${fmt(own, 1)} ms** (median of sockvisor − median of bare Node; the goal is ≤ ${GOAL_MS} ms).`,
      'That part is loading sockvisor (its modules, yargs, pino and the native addon), parsing the options, checking the socket',
      'path and COMMAND, and creating the socket. What the run path does not use is loaded only when asked for: prom-client',
      '(--metrics), pino-pretty (the readable log), smol-toml (--config) and the doctor, nginx-snippet, systemd-unit and control',
      'commands. And the `sockvisor` bin is one file (scripts/bundle-cli.mjs, esbuild after tsc): Node resolves, reads and links',
      'each ES module of an import graph one at a time, and a run opened some 160 of them (sockvisor 80, yargs 40, pino 35).',
      '',
      'How each step paid, measured while making them (21 and 31 rounds alternating bare Node and the three builds, on this',
      'machine under a load average of 4 to 5 from other jobs, so every figure is inflated; compare within a run):',
      '',
      '| build | own part, run 1 (bare Node 133 ms) | own part, run 2 (bare Node 176 ms) | files of the package opened by a run |',
      '|---|---|---|---|',
      '| before: every module imported at start | 226 ms | 409 ms | 329 |',
      '| lazy imports of what the run path does not use | 159 ms | 272 ms | 165 |',
      '| lazy imports and the one-file bin | 89 ms | 139 ms | 7 |',
      '',
      'Not done, by measurement: minifying the bundle or splitting the lazy parts into chunks of their own changed nothing',
      "measurable (compiling the 0.7 MB file is not the cost); Node's module.enableCompileCache() exists only from Node 22.1.",
      '',
      'The app-level view: from start to the first `200` answered on the unix socket (a uwsgi-protocol `GET /` sent straight to',
      'the socket, polled every 2 ms), uWSGI with its python3 plugin, a master and one worker, and the example app.',
      '',
      '| setup | runs | median | p90 | min | max |',
      '|---|---|---|---|---|---|',
      row('uWSGI alone: `uwsgi -s SOCKET ...`', f.uwsgiAlone),
      row('uWSGI behind sockvisor: `sockvisor -s SOCKET -- uwsgi ...`', f.uwsgiSockvisor),
      '',
      `Behind sockvisor the first 200 comes ${fmt(appOwn, 1)} ms later (difference of the medians) than with uWSGI alone.`,
    ];
  },
};
