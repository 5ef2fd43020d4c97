// nginx's error.log, read for the lines that say why it could not reach a unix socket:
//   2024/05/01 12:00:00 [crit] 812#812: *9 connect() to unix:/run/app.sock failed (13: Permission denied) while connecting to upstream, ...
// grouped by socket and errno, so that doctor can explain each group with its checks.
import { open } from 'node:fs/promises';

export interface ConnectFailure {
  time: string;
  level: string;
  path: string;
  errno: number;
  message: string;
}

/** How often one errno was met on one socket, and when first and last. */
export interface FailureCount {
  errno: number;
  message: string;
  count: number;
  first: string;
  last: string;
}

export interface LogGroup {
  path: string;
  failures: FailureCount[];
}

const CONNECT_FAILED =
  /^(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) \[(\w+)\] [^:]*: (?:\*\d+ )?connect\(\) to unix:(.+?) failed \((\d+): ([^)]*)\)/;

/** One error.log line, when it is a failed connect() to a unix socket. */
export function parseErrorLogLine(line: string): ConnectFailure | null {
  const match = CONNECT_FAILED.exec(line);
  if (!match) return null;
  return { time: match[1]!, level: match[2]!, path: match[3]!, errno: Number(match[4]), message: match[5]! };
}

/** Counts failures by socket (in order of first appearance), then by errno, one at a time. */
export class FailureGroups {
  private readonly groups = new Map<string, Map<number, FailureCount>>();

  add(f: ConnectFailure): void {
    let byErrno = this.groups.get(f.path);
    if (!byErrno) this.groups.set(f.path, (byErrno = new Map()));
    const count = byErrno.get(f.errno);
    if (count) {
      count.count++;
      count.last = f.time;
    } else {
      byErrno.set(f.errno, { errno: f.errno, message: f.message, count: 1, first: f.time, last: f.time });
    }
  }

  result(): LogGroup[] {
    return [...this.groups].map(([path, byErrno]) => ({ path, failures: [...byErrno.values()] }));
  }
}

/** Groups failures by socket, then by errno. */
export function groupFailures(failures: Iterable<ConnectFailure>): LogGroup[] {
  const groups = new FailureGroups();
  for (const f of failures) groups.add(f);
  return groups.result();
}

/** What nginx met, for an errno it logged, in words a reader can act on. */
export function explainErrno(errno: number, who: string): string {
  switch (errno) {
    case 2:
      return 'no socket was at that path (not created yet, removed by a restart, or nginx names the wrong path)';
    case 13:
      return `${who} may not write the socket, or may not search a folder above it`;
    case 111:
      return 'the socket file was there but nobody listened (the server was stopped, crashed or restarting), or it is not a socket';
    case 11:
      return "the server's listen backlog was full: it accepted too slowly";
    default:
      return 'a system error; see connect(2)';
  }
}

/** Reads a whole error.log line by line (it may be large) and groups its failed unix connects. */
export async function readErrorLog(file: string): Promise<LogGroup[]> {
  const groups = new FailureGroups();
  const handle = await open(file); // fails here, with ENOENT or EACCES, before any reading
  for await (const line of handle.readLines({ encoding: 'utf8' })) {
    const failure = parseErrorLogLine(line);
    if (failure) groups.add(failure);
  }
  return groups.result();
}
