// Running the real sockvisor CLI as a child of the test, reading its JSON log records from stderr.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, processGroupMembers } from './proc.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface LogRecord {
  level: number;
  msg: string;
  event?: string;
  [key: string]: unknown;
}

export interface SockvisorProcess {
  proc: ChildProcess;
  pid: number;
  records: LogRecord[];
  /** stderr lines that are not JSON (the child's own output) */
  otherLines: string[];
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

/** Starts `node dist/src/cli/main.js ARGS` with JSON logs; stopped by stopAllSockvisors() at the latest. */
export function startSockvisor(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {}): SockvisorProcess {
  const proc = spawn(process.execPath, [cliPath, '--log-format', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
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
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
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
  });
  const exited = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const handle: SockvisorProcess = {
    proc,
    pid: proc.pid!,
    records,
    otherLines,
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
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log so far:\n${records.map((r) => `${r.event ?? ''} ${r.msg}`).join('\n')}\n${otherLines.slice(-20).join('\n')}`));
        }, timeoutMs);
        const onExit = (): void => {
          if (!check()) {
            cleanup();
            reject(new Error(`sockvisor exited while waiting for ${what}; log:\n${records.map((r) => `${r.event ?? ''} ${r.msg}`).join('\n')}\n${otherLines.slice(-20).join('\n')}`));
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
          throw new Error(`waited for ${count} line(s) matching ${pattern}, saw ${matching().length}; output:\n${otherLines.slice(-30).join('\n')}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return matching();
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
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
 * Asserts that no sockvisor this file started is alive, and that nothing is left in the process
 * group of any child they started (uWSGI masters and workers): a test run leaves nothing behind.
 */
export async function assertNothingLeft(timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const leftovers = (): string[] => {
    const found: string[] = [];
    for (const sv of started) {
      if (isAlive(sv.pid)) found.push(`sockvisor ${sv.pid}`);
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
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { env: { ...process.env, ...options.env }, cwd: options.cwd ?? repoRoot, timeout: 60000, ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}) },
      (error, stdout, stderr) => resolvePromise({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
