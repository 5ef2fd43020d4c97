// Sockets that look like the one nginx points at in vain (the seed's Pitfall 3a: a path that does
// not exist, while the app listens one folder or one name away). Listening unix sockets come from
// /proc/net/unix (what ss -xl reads); who holds each, from the socket:[INODE] links in /proc/PID/fd.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { appSocketPath } from '../control/paths.js';
import { basename, dirname } from 'node:path';

export interface ListeningSocket {
  path: string;
  inode: number;
}

/** The process holding a socket: sockvisor, uWSGI, or another program (by its comm). */
export interface Holder {
  pid: number;
  name: string;
}

export interface NearbySocket {
  path: string;
  holder: Holder | null;
  /** why it looks like the intended one */
  reason: string;
}

/** __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket is listening. */
const ACCEPTCON = 0x10000;

/** Listening unix sockets bound to a path (not abstract, not unnamed). */
export function readListeningSockets(text = readFileSync('/proc/net/unix', 'utf8')): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  // Num RefCount Protocol Flags Type St Inode Path
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const path = fields.slice(7).join(' ');
    if (fields.length < 8 || !path.startsWith('/')) continue;
    if ((Number.parseInt(fields[3]!, 16) & ACCEPTCON) === 0) continue;
    sockets.push({ path, inode: Number(fields[6]) });
  }
  return sockets;
}

/** What to call a process: sockvisor (a node running sockvisor's CLI), uWSGI, or its comm. */
function processName(pid: string): string | null {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm.startsWith('uwsgi')) return 'uWSGI';
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (cmdline.some((arg) => /sockvisor/.test(arg))) return 'sockvisor';
    return comm;
  } catch {
    return null;
  }
}

/** Who holds each of these socket inodes (sockvisor preferred over its uWSGI child); unreadable processes are skipped. */
export function readHolders(inodes: Set<number>): Map<number, Holder> {
  const holders = new Map<number, Holder>();
  if (inodes.size === 0) return holders;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's process while not root
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      const inode = match ? Number(match[1]) : NaN;
      if (!inodes.has(inode)) continue;
      const name = processName(pid);
      const known = holders.get(inode);
      if (name && (!known || (known.name !== 'sockvisor' && name === 'sockvisor'))) holders.set(inode, { pid: Number(pid), name });
    }
  }
  return holders;
}

function stem(path: string): string {
  return basename(path).replace(/\.(sock|socket)$/, '');
}

/**
 * The listening sockets, held by sockvisor or uWSGI (or by someone doctor may not see), that look
 * like `wanted`: in the same folder, with the same name, or with a like name in a like-named folder.
 */
export function rankNearby(wanted: string, sockets: (ListeningSocket & { holder: Holder | null })[], limit = 3): NearbySocket[] {
  const scored: (NearbySocket & { score: number })[] = [];
  for (const socket of sockets) {
    if (socket.path === wanted) continue;
    // A run's control socket is no place for nginx to connect to.
    if (appSocketPath(socket.path) !== null) continue;
    if (socket.holder && socket.holder.name !== 'sockvisor' && socket.holder.name !== 'uWSGI') continue;
    const [a, b] = [stem(wanted), stem(socket.path)];
    const likeName = a.length >= 3 && b.length >= 3 && (a.includes(b) || b.includes(a));
    let score = 0;
    let reason = '';
    if (dirname(socket.path) === dirname(wanted)) [score, reason] = [4, 'in the same folder'];
    else if (basename(socket.path) === basename(wanted)) [score, reason] = [3, 'the same name in another folder'];
    else if (basename(dirname(socket.path)) === basename(dirname(wanted)) && likeName)
      [score, reason] = [2, 'a like name in a like-named folder'];
    if (score > 0) scored.push({ path: socket.path, holder: socket.holder, reason, score: score + (likeName ? 0.5 : 0) });
  }
  return scored
    .sort((x, y) => y.score - x.score || x.path.localeCompare(y.path))
    .slice(0, limit)
    .map(({ score: _score, ...rest }) => rest);
}

/** The sockets near `wanted` that sockvisor or uWSGI listen on now. */
export function findNearbySockets(wanted: string): NearbySocket[] {
  const listening = readListeningSockets();
  const wantedDir = dirname(wanted);
  const candidates = listening.filter(
    (s) => dirname(s.path) === wantedDir || basename(s.path) === basename(wanted) || basename(dirname(s.path)) === basename(wantedDir),
  );
  const holders = readHolders(new Set(candidates.map((s) => s.inode)));
  return rankNearby(
    wanted,
    candidates.map((s) => ({ ...s, holder: holders.get(s.inode) ?? null })),
  );
}
