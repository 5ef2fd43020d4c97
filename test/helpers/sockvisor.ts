// Running the real sockvisor CLI as a child of the test, reading its JSON log records from stderr.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { childrenOf, isAlive, processGroupMembers } from './proc.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'sockvisor.js');

export interface LogRecord {
  level: number;
  msg: string;
  event?: string;
  [key: string]: unknown;
}

/**
 * Where sockvisor runs: here (the default), as PID 1 of a new pid namespace, or in one under a
 * shell that is its PID 1 (`unshare --pid --fork --mount-proc`, util-linux).
 */
export type Namespace = 'none' | 'pid1' | 'below-pid1';

export interface SockvisorProcess {
  proc: ChildProcess;
  /** the process the test started: sockvisor itself, or unshare in a namespace */
  pid: number;
  namespace: Namespace;
  /** sockvisor's own pid as seen from here (in a namespace: found below unshare) */
  sockvisorPid(): Promise<number>;
  records: LogRecord[];
  /** stderr lines that are not JSON (the child's own output) */
  otherLines: string[];
  /** feeds stderr text read elsewhere (with stderrFd) into records and otherLines */
  addLog(text: string): void;
  stdout: () => string;
  waitFor(predicate: (r: LogRecord) => boolean, timeoutMs?: number, what?: string): Promise<LogRecord>;
  /** waits until `count` lines of the child's own output (not sockvisor's records) match pattern */
  waitForLines(pattern: RegExp, count?: number, timeoutMs?: number): Promise<string[]>;
  /** resolves with the exit code (or 128+signal) */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<SockvisorProcess>();
/** Every sockvisor and every child it started during this test file: checked by assertNothingLeft(). */
const started: SockvisorProcess[] = [];

/**
 * A shell script run as PID 1 of the namespace before it becomes sockvisor (exec): mounts of the
 * namespace's own (a container's /etc/passwd, its volumes). The script reads its args as $1, $2...
 */
export interface NamespaceSetup {
  script: string;
  args: string[];
}

/** The command line that starts sockvisor in the namespace asked for. */
function commandLine(args: string[], namespace: Namespace, setup?: NamespaceSetup): [string, string[]] {
  const node = [process.execPath, cliPath, '--log-format', 'json', ...args];
  // --kill-child: if unshare is killed, so is its PID 1 and with it the whole namespace.
  // --mount-proc gives the namespace a mount namespace of its own (private: nothing leaks out).
  const unshare = ['--pid', '--fork', '--mount-proc', '--kill-child'];
  if (namespace === 'pid1' && setup) {
    const script = `${setup.script}
shift ${setup.args.length}
exec "$@"`;
    return ['unshare', [...unshare, 'sh', '-ec', script, 'sh', ...setup.args, ...node]];
  }
  if (namespace === 'pid1') return ['unshare', [...unshare, ...node]];
  // `; exit $?` keeps the shell from exec'ing node: it stays PID 1, sockvisor runs below it.
  if (namespace === 'below-pid1') return ['unshare', [...unshare, 'sh', '-c', '"$@"; exit $?', 'sh', ...node]];
  return [node[0]!, node.slice(1)];
}

/** The first process below root (depth-first) that is `node <the sockvisor CLI>`. */
function findSockvisorBelow(root: number): number | null {
  for (const pid of childrenOf(root)) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[0] === process.execPath && argv[1] === cliPath) return pid;
    const below = findSockvisorBelow(pid);
    if (below !== null) return below;
  }
  return null;
}

/** Starts `node dist/src/cli/sockvisor.js ARGS` with JSON logs; stopped by stopAllSockvisors() at the latest. */
export function startSockvisor(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    uid?: number;
    gid?: number;
    namespace?: Namespace;
    setup?: NamespaceSetup;
    stderrFd?: number;
  } = {},
): SockvisorProcess {
  const namespace = options.namespace ?? 'none';
  if (options.setup && namespace !== 'pid1') throw new Error('a namespace setup script needs namespace: pid1');
  const [file, argv] = commandLine(args, namespace, options.setup);
  const proc = spawn(file, argv, {
    // With stderrFd the test reads sockvisor's log itself (and adds it with addLog()).
    stdio: ['ignore', 'pipe', options.stderrFd ?? 'pipe'],
    env: { ...process.env, ...options.env },
    cwd: options.cwd ?? repoRoot,
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  const records: LogRecord[] = [];
  const otherLines: string[] = [];
  const waiters = new Set<() => void>();
  let out = '';
  let buffer = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const addLog = (chunk: string): void => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const record = JSON.parse(line) as LogRecord;
        if (typeof record === 'object' && record && 'msg' in record) records.push(record);
        else otherLines.push(line);
      } catch {
        otherLines.push(line);
      }
    }
    for (const wake of waiters) wake();
  };
  proc.stderr?.setEncoding('utf8').on('data', addLog);
  const exited = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  let ownPid: number | null = namespace === 'none' ? proc.pid! : null;
  const handle: SockvisorProcess = {
    proc,
    pid: proc.pid!,
    namespace,
    async sockvisorPid() {
      const end = Date.now() + 10000;
      while (ownPid === null && Date.now() < end && proc.exitCode === null && proc.signalCode === null) {
        ownPid = findSockvisorBelow(proc.pid!);
        if (ownPid === null) await new Promise((r) => setTimeout(r, 20));
      }
      if (ownPid === null) throw new Error(`no sockvisor found below ${namespace} wrapper ${proc.pid}`);
      return ownPid;
    },
    records,
    otherLines,
    addLog,
    stdout: () => out,
    exited,
    waitFor(predicate, timeoutMs = 15000, what = 'a log record') {
      return new Promise((resolvePromise, reject) => {
        let index = 0;
        const check = (): boolean => {
          for (; index < records.length; index++) {
            if (predicate(records[index]!)) {
              cleanup();
              resolvePromise(records[index]!);
              return true;
            }
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; log so far:\n${records.map((r) => `${r.event ?? ''} ${r.msg}`).join('\n')}\n${otherLines.slice(-20).join('\n')}`,
            ),
          );
        }, timeoutMs);
        const onExit = (): void => {
          if (!check()) {
            cleanup();
            reject(
              new Error(
                `sockvisor exited while waiting for ${what}; log:\n${records.map((r) => `${r.event ?? ''} ${r.msg}`).join('\n')}\n${otherLines.slice(-20).join('\n')}`,
              ),
            );
          }
        };
        const wake = (): void => void check();
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
          proc.off('exit', onExit);
        };
        waiters.add(wake);
        proc.once('exit', onExit);
        check();
      });
    },
    async waitForLines(pattern, count = 1, timeoutMs = 15000) {
      const matching = (): string[] => otherLines.filter((line) => pattern.test(line));
      const end = Date.now() + timeoutMs;
      while (matching().length < count) {
        if (Date.now() > end || proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(
            `waited for ${count} line(s) matching ${pattern}, saw ${matching().length}; output:\n${otherLines.slice(-30).join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return matching();
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        // In a namespace, unshare ignores SIGTERM/SIGINT: the signal goes to sockvisor itself.
        const target = namespace === 'none' ? proc.pid! : await handle.sockvisorPid().catch(() => proc.pid!);
        try {
          process.kill(target, signal);
        } catch {
          // gone meanwhile
        }
      }
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
      const result = await exited;
      clearTimeout(timer);
      running.delete(handle);
      return result;
    },
  };
  running.add(handle);
  started.push(handle);
  void exited.then(() => running.delete(handle));
  return handle;
}

/** Runs sockvisor to completion (for bad-input cases): exit code and parsed records. */
export async function runSockvisor(
  args: string[],
  options: Parameters<typeof startSockvisor>[1] & { timeoutMs?: number } = {},
): Promise<{ code: number | null; records: LogRecord[]; stderr: string }> {
  const handle = startSockvisor(args, options);
  const timer = setTimeout(() => handle.proc.kill('SIGKILL'), options.timeoutMs ?? 60000);
  const { code } = await handle.exited;
  clearTimeout(timer);
  return { code, records: handle.records, stderr: [...handle.records.map((r) => r.msg), ...handle.otherLines].join('\n') };
}

/**
 * Stops every sockvisor a test started and is still running (by pid): SIGTERM, so that it stops
 * its child and removes its socket as a user's stop would; stop() escalates to SIGKILL after 20 s.
 */
export async function stopAllSockvisors(): Promise<void> {
  await Promise.all([...running].map((h) => h.stop('SIGTERM')));
}

/**
 * The pid of a child sockvisor started, from its log: the first one, or with `after` the first
 * started after the child with that pid.
 */
export async function childPid(sv: SockvisorProcess, after?: number): Promise<number> {
  const starts = (): LogRecord[] => sv.records.filter((r) => r.event === 'child.started');
  let seen = 0;
  if (after !== undefined) {
    seen = starts().findIndex((r) => r.pid === after) + 1;
    if (seen === 0) throw new Error(`no child with pid ${after} was started by sockvisor ${sv.pid}`);
  }
  await sv.waitFor(() => starts().length > seen, 15000, after === undefined ? 'a child to start' : `a child started after ${after}`);
  return starts()[seen]!.pid as number;
}

/**
 * kill -9 of the child with pid (a uWSGI master), a request at once (it waits in the held socket's
 * backlog for the next child), asserted 200. A worker the killed master left may still take it in
 * its last instant (uWSGI's lives about 10 ms, gunicorn's until it notices its master is gone, at
 * most sockvisor's 1 s grace), so that one must come from the killed child's group or the next
 * child's; once the killed group is gone, a second request must come from the next child (see
 * assertServedBy). Returns the next child's pid. With `afterGroup`, the first request too waits
 * until the old master's workers are gone: with uWSGI's no-orphans (Debian's default.ini) a worker
 * may accept it in the instant before the kernel kills it for its master's death, and that request
 * is lost whoever holds the socket.
 */
export async function killAndRequest(
  sv: SockvisorProcess,
  pid: number,
  request: () => Promise<{ status: number; body: string }>,
  afterGroup = false,
): Promise<number> {
  const killed = processGroupMembers(pid);
  process.kill(pid, 'SIGKILL');
  const groupGone = async (): Promise<void> => {
    const end = Date.now() + 5000;
    while (processGroupMembers(pid).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(processGroupMembers(pid), [], `the group of the killed child ${pid} outlived it by 5 s`);
  };
  if (afterGroup) await groupGone();
  const first = await request();
  assert.equal(first.status, 200, `request right after kill -9 of ${pid} got ${first.status}`);
  const next = await childPid(sv, pid);
  const answered = answeringPids(first.body);
  const known = [...killed, next, ...processGroupMembers(next)];
  const neither = `the request right after kill -9 was answered by neither ${pid}'s group nor the next child ${next}: ${first.body}`;
  assert.deepEqual(
    answered.filter((p) => !known.includes(p)),
    [],
    neither,
  );
  await groupGone();
  const second = await request();
  assert.equal(second.status, 200, `request once the killed child ${pid}'s group was gone got ${second.status}`);
  assertServedBy(second.body, next, killed);
  return next;
}

/** The pids an answer of the tests' apps names ("pid N", "(worker W)"), the one that served it last. */
function answeringPids(body: string): number[] {
  const pids = [...body.matchAll(/\b(?:pid|worker) (\d+)/g)].map((m) => Number(m[1]));
  assert.ok(pids.length > 0, `the answer names no pid: ${JSON.stringify(body)}`);
  return pids;
}

/**
 * The apps of the tests name the processes that answered (examples/app.py: `pid MASTER (worker W)`,
 * test/fixtures: `pid N`): asserts that none of them is in `killed` (the process group of a child
 * killed before) and that the last one is `child` or in its process group.
 */
export function assertServedBy(body: string, child: number, killed: number[] = []): void {
  const pids = answeringPids(body);
  const byKilled = pids.filter((p) => killed.includes(p));
  assert.deepEqual(byKilled, [], `answered by the killed child's process group (${killed.join(', ')}): ${body}`);
  const server = pids.at(-1)!;
  const ours = server === child || processGroupMembers(child).includes(server);
  assert.ok(ours, `answered by pid ${server}, neither the child ${child} nor in its process group: ${body}`);
}

/**
 * Asserts that no sockvisor this file started is alive, and that nothing is left in the process
 * group of any child they started (uWSGI masters and workers): a test run leaves nothing behind.
 */
export async function assertNothingLeft(timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const leftovers = (): string[] => {
    const found: string[] = [];
    for (const sv of started) {
      if (isAlive(sv.pid)) found.push(`sockvisor ${sv.pid}`);
      // Pids logged in a namespace are its own. The kernel empties a pid namespace before its PID 1
      // is gone, and unshare waits for that: unshare gone means nothing is left in there.
      if (sv.namespace !== 'none') continue;
      for (const r of sv.records) {
        if (r.event !== 'child.started') continue;
        const members = processGroupMembers(r.pid as number);
        if (members.length > 0) found.push(`child group ${r.pid as number}: ${members.join(', ')}`);
      }
    }
    return found;
  };
  let left = leftovers();
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = leftovers();
  }
  if (left.length > 0) throw new Error(`processes left behind: ${left.join('; ')}`);
}

/** Runs a sockvisor command that ends by itself (doctor, nginx-snippet): exit code, stdout and stderr. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      {
        env: { ...process.env, ...options.env },
        cwd: options.cwd ?? repoRoot,
        timeout: 60000,
        ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
      },
      (error, stdout, stderr) => resolvePromise({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
