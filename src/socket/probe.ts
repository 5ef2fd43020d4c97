// Looking at a socket path without following or changing it: lstat, and connect() to tell whether
// anyone listens on a socket file. Preflight, the anchor's preflight and self-healing all judge a
// socket they did not create by this one rule.
import { lstatSync, type BigIntStats } from 'node:fs';
import { probeUnixSocket } from '../native.js';

/** lstat of path, null when nothing is there (ENOENT); any other error is thrown. */
export function lstatOrNull(path: string): BigIntStats | null {
  // No exception for the usual case, a missing file: building one costs more than the lstat.
  return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
}

/**
 * Whether anyone listens on the socket at path: live (connect() succeeds, or would wait for a full
 * backlog: EAGAIN), stale (ECONNREFUSED: nobody listens, e.g. left by a crash), or unknown (any other
 * error, EACCES say: it cannot be told).
 */
export type Listening = { state: 'live' } | { state: 'stale' } | { state: 'unknown'; code: string };

export function probeListening(path: string): Listening {
  const probe = probeUnixSocket(path);
  if (probe === null || probe === 'EAGAIN') return { state: 'live' };
  if (probe === 'ECONNREFUSED') return { state: 'stale' };
  return { state: 'unknown', code: probe };
}
