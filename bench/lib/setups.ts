// The servers compared, each nginx-ready on a unix socket: uWSGI binding its own socket restarted
// in a loop, uWSGI under supervisord's [fcgi-program] (socket held by supervisord, passed as fd 0),
// and uWSGI under sockvisor. Every process is started in a group of its own and stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, cpuTimeMs, isAlive, killGroup, statusField, waitGone, waitUntil } from '../../test/helpers/proc.js';
import { cliPath } from '../../test/helpers/sockvisor.js';
import { UWSGI, uwsgiArgs } from '../../test/helpers/uwsgi.js';

export interface Setup {
  name: string;
  socketPath: string;
  /** the pid of the uWSGI master serving now */
  masterPid(): number | null;
  /** the process a user signals to reload (the uWSGI master, or sockvisor) */
  reloadPid(): number;
  /** the supervising process (for footprint), if any */
  supervisorPid: number | null;
  stop(): Promise<void>;
}

/** uWSGI options common to every setup: the example app, a master and N workers, no request log. */
export function appArgs(processes: number): string[] {
  return uwsgiArgs(['--processes', String(processes)]);
}

/** Starts a process in a group of its own (for cleanup by group id), its output appended to log. */
function startGroup(file: string, args: string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const out = openSync(log, 'a');
  try {
    return spawn(file, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...env } });
  } finally {
    closeSync(out);
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20000): Promise<void> {
  if (!(await waitUntil(check, timeoutMs))) throw new Error(`timed out waiting for ${what}`);
}

/** signal to the group's leader, up to 15 s for it to go, then SIGKILL to whatever is left of the group. */
async function stopGroup(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = proc.pid!;
  if (isAlive(pid)) process.kill(pid, signal);
  await waitGone(pid, 15000);
  killGroup(pid);
}

/** `while true; do uwsgi -s PATH --chmod-socket=660 --chown-socket=root:www-data ...; done`. */
export async function startRawLoop(dir: string, processes: number, env: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const socketPath = join(dir, 'raw.sock');
  const args = [...appArgs(processes), '-s', socketPath, '--chmod-socket=660', '--chown-socket=root:www-data'];
  let current: ChildProcess | null = null;
  let stopping = false;
  const all: ChildProcess[] = [];
  const launch = (): void => {
    const proc = startGroup(UWSGI, args, env, join(dir, 'raw.log'));
    all.push(proc);
    current = proc;
    proc.on('exit', () => {
      // its orphaned workers die with the master ("my master disconnected"); make sure of it
      setTimeout(() => killGroup(proc.pid!), 1000).unref();
      if (!stopping && current === proc) launch();
    });
  };
  launch();
  await waitFor('raw uWSGI to bind', () => existsSync(socketPath));
  return {
    name: 'uWSGI alone, restarted in a loop',
    socketPath,
    masterPid: () => current?.pid ?? null,
    reloadPid: () => current!.pid!,
    supervisorPid: null,
    stop: async () => {
      stopping = true;
      for (const proc of all) if (proc.exitCode === null && proc.signalCode === null) await stopGroup(proc, 'SIGINT');
    },
  };
}

/** supervisord with an [fcgi-program]: it binds the socket and passes it to uWSGI as fd 0. */
export async function startSupervisord(dir: string, processes: number, env: NodeJS.ProcessEnv = {}, command?: string): Promise<Setup> {
  const socketPath = join(dir, 'supervisord.sock');
  const conf = join(dir, 'supervisord.conf');
  const program = command
    ? `[program:app]\ncommand=${command}\n`
    : `[fcgi-program:app]\nsocket=unix://${socketPath}\nsocket_owner=root:www-data\nsocket_mode=0660\n` +
      // uWSGI adopts a listening socket on fd 0 (docs/design-notes.md, 'Handing a socket to uWSGI'); fd://0 says so explicitly.
      `command=${UWSGI} ${[...appArgs(processes), '--socket', 'fd://0'].join(' ')}\n`;
  writeFileSync(
    conf,
    `[supervisord]\nnodaemon=true\nlogfile=${join(dir, 'supervisord.log')}\npidfile=${join(dir, 'supervisord.pid')}\nchildlogdir=${dir}\n` +
      `${program}autostart=true\nautorestart=true\nstartsecs=0\nstartretries=100000\nstopsignal=INT\nstopasgroup=true\nkillasgroup=true\n` +
      `stdout_logfile=${join(dir, 'app.log')}\nredirect_stderr=true\n` +
      Object.entries(env)
        .map(([k, v]) => `environment=${k}="${v}"\n`)
        .join(''),
  );
  const proc = startGroup('/usr/bin/supervisord', ['-c', conf], {}, join(dir, 'supervisord.out'));
  const uwsgiChild = (): number | null => childrenOf(proc.pid!)[0] ?? null;
  await waitFor('supervisord to start its program', () => uwsgiChild() !== null && (command !== undefined || existsSync(socketPath)));
  return {
    name: 'supervisord [fcgi-program]',
    socketPath,
    masterPid: uwsgiChild,
    reloadPid: () => uwsgiChild()!,
    supervisorPid: proc.pid!,
    stop: () => stopGroup(proc, 'SIGTERM'),
  };
}

/**
 * One supervisord with one [fcgi-program] per command: it holds each program's socket
 * (sock-N.sock, 0660 root:www-data) and passes it as fd 0; each program is started once.
 */
export async function startSupervisordSockets(dir: string, commands: string[]): Promise<Setup> {
  const conf = join(dir, 'supervisord.conf');
  const programs = commands.map(
    (command, i) =>
      `[fcgi-program:p${i}]\nsocket=unix://${join(dir, `sock-${i}.sock`)}\nsocket_owner=root:www-data\nsocket_mode=0660\n` +
      `command=${command}\nautostart=true\nautorestart=true\nstartsecs=0\nstopsignal=INT\nstopasgroup=true\nkillasgroup=true\n` +
      `stdout_logfile=${join(dir, `p${i}.log`)}\nredirect_stderr=true\n`,
  );
  writeFileSync(
    conf,
    `[supervisord]\nnodaemon=true\nlogfile=${join(dir, 'supervisord.log')}\npidfile=${join(dir, 'supervisord.pid')}\nchildlogdir=${dir}\n` +
      programs.join(''),
  );
  const proc = startGroup('/usr/bin/supervisord', ['-c', conf], {}, join(dir, 'supervisord.out'));
  await waitFor(`supervisord to start its ${commands.length} programs`, () => childrenOf(proc.pid!).length >= commands.length);
  return {
    name: `supervisord, ${commands.length} [fcgi-program]`,
    socketPath: join(dir, 'sock-0.sock'),
    masterPid: () => childrenOf(proc.pid!)[0] ?? null,
    reloadPid: () => childrenOf(proc.pid!)[0]!,
    supervisorPid: proc.pid!,
    stop: () => stopGroup(proc, 'SIGTERM'),
  };
}

/** sockvisor holding the socket, uWSGI on fd://3 (node started with nodeArgs before the script). */
export async function startSockvisorSetup(
  dir: string,
  processes: number,
  env: NodeJS.ProcessEnv = {},
  command?: string[],
  extra: string[] = [],
  nodeArgs: string[] = [],
): Promise<Setup> {
  const socketPath = join(dir, 'sockvisor.sock');
  const args = [
    ...nodeArgs,
    cliPath,
    '--log-format',
    'json',
    '-s',
    socketPath,
    '--socket-owner',
    'root:www-data',
    ...extra,
    '--',
    ...(command ?? [UWSGI, ...appArgs(processes)]),
  ];
  const proc = startGroup(process.execPath, args, env, join(dir, 'sockvisor.log'));
  // The current child as sockvisor's log names it: sockvisor's other children are sockvisor-guard
  // and, for a moment after a kill -9, the dead master's workers (sockvisor is their subreaper).
  const logFile = join(dir, 'sockvisor.log');
  const child = (): number | null => {
    const started = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"event":"child.started"'))
      .map((line) => (JSON.parse(line) as { pid: number }).pid);
    const pid = started.at(-1);
    return pid !== undefined && isAlive(pid) && childrenOf(proc.pid!).includes(pid) ? pid : null;
  };
  await waitFor('sockvisor to start its child', () => child() !== null && existsSync(socketPath));
  return {
    name: 'sockvisor',
    socketPath,
    masterPid: child,
    reloadPid: () => proc.pid!,
    supervisorPid: proc.pid!,
    stop: () => stopGroup(proc, 'SIGTERM'),
  };
}

/** Waits until the socket answers an HTTP request through nginx with 200. */
export async function waitServing(get: () => Promise<number>, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await get()) === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error('the server did not answer 200 in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** VmRSS in kB and CPU time (user + system) in ms of a process. */
export function usage(pid: number): { rssKb: number; cpuMs: number } {
  const rssKb = statusField(pid, 'VmRSS');
  const cpuMs = cpuTimeMs(pid);
  if (rssKb === null || cpuMs === null) throw new Error(`no VmRSS or CPU time for pid ${pid}: gone, or a zombie`);
  return { rssKb, cpuMs };
}
