// Reading /proc: what a user would check with ls -l /proc/PID/fd, ps and cat /proc/PID/environ.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

/** What the tests read of /proc/PID/stat (proc(5)); utime and stime in clock ticks. */
interface Stat {
  state: string;
  ppid: number;
  pgrp: number;
  utime: number;
  stime: number;
}

/** The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...); null when pid is gone. */
function statOf(pid: number | string): Stat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself hold ') ', so cut at the last one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is stat(5)'s field 3 (state): utime and stime, its fields 14 and 15, are 11 and 12.
    return {
      state: fields[0] ?? '',
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      utime: Number(fields[11]),
      stime: Number(fields[12]),
    };
  } catch {
    return null;
  }
}

/** Every pid in /proc whose stat fields satisfy keep. */
function pidsWhere(keep: (stat: Stat) => boolean): number[] {
  const result: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = statOf(name);
    if (stat !== null && keep(stat)) result.push(Number(name));
  }
  return result;
}

/** Whether pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = statOf(pid);
  return stat !== null && stat.state !== 'Z';
}

/** Polls until pid is gone; false on timeout. */
export async function waitGone(pid: number, timeoutMs = 10000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !isAlive(pid);
}

/** fd number -> link target, as `ls -l /proc/PID/fd` shows. */
export function openFds(pid: number): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      fds.set(Number(name), readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed meanwhile
    }
  }
  return fds;
}

/** The environment a process started with. */
export function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Pids whose parent is ppid. */
export function childrenOf(ppid: number): number[] {
  return pidsWhere((stat) => stat.ppid === ppid);
}

/** Every live pid in process group pgid. */
export function processGroupMembers(pgid: number): number[] {
  return pidsWhere((stat) => stat.pgrp === pgid && stat.state !== 'Z');
}

/** The workers of a uWSGI master: its live children in its process group. */
export function workersOf(master: number): number[] {
  return pidsWhere((stat) => stat.pgrp === master && stat.ppid === master && stat.state !== 'Z');
}

/** Kills whatever is left of a process group (test cleanup, by group id, never by name). */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** What ls -li and stat show of a file: the same values before and after means the same file, untouched. */
export interface FileIdentity {
  ino: number;
  birth: number;
  mode: number;
  uid: number;
  gid: number;
}

/** The identity of the file at path (following no link: sockets are never links here). */
export function identify(path: string): FileIdentity {
  const st = statSync(path);
  return { ino: st.ino, birth: st.birthtimeMs, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** Polls predicate every 20 ms until it holds; false on timeout. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 10000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

/**
 * The first value of the `name:` line of /proc/PID/status (VmRSS and VmHWM in kB, Uid the real
 * uid, ...); null when pid is gone or has no such line (a zombie has no Vm* lines).
 */
export function statusField(pid: number, name: string): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

/** The real uid a process runs as (the Uid: line of /proc/PID/status); null when it is gone. */
export function uidOf(pid: number): number | null {
  return statusField(pid, 'Uid');
}

/** The CPU time pid has used, user + system, in ms (USER_HZ is 100 on Linux); null when it is gone. */
export function cpuTimeMs(pid: number): number | null {
  const stat = statOf(pid);
  return stat === null ? null : ((stat.utime + stat.stime) * 1000) / 100;
}

/** Pids whose parent is ppid and that are zombies (state Z): exited, never reaped. */
export function zombieChildrenOf(ppid: number): number[] {
  return pidsWhere((stat) => stat.ppid === ppid && stat.state === 'Z');
}

/** The parent pid of pid (as this pid namespace sees it); null when it is gone. */
export function parentOf(pid: number): number | null {
  return statOf(pid)?.ppid ?? null;
}

/** The process group of pid; null when it is gone. */
export function pgrpOf(pid: number): number | null {
  return statOf(pid)?.pgrp ?? null;
}

/** Whether /proc/PID exists at all: a zombie does, a reaped process does not. */
export function existsInProc(pid: number): boolean {
  return statOf(pid) !== null;
}

/** The command name of pid (/proc/PID/comm, what ps -o comm shows); null when it is gone. */
export function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Whether pid sleeps in nanosleep (/proc/PID/wchan), as a worker of examples/app.py does inside
 * GET /sleep: the request has reached it and it is busy. An idle uWSGI worker waits in accept or
 * epoll instead.
 */
export function inSleep(pid: number): boolean {
  try {
    return /nanosleep|nsleep/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits until pid sleeps in nanosleep (see inSleep); false on timeout. */
export function waitInSleep(pid: number, timeoutMs = 10000): Promise<boolean> {
  return waitUntil(() => inSleep(pid), timeoutMs);
}
