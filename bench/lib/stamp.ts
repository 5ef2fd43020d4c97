// The timing child of bench/lib/stamp.c, compiled once per bench run with the system's cc (gcc, a
// dependency of g++, which the build installs), static so that its own start costs no dynamic loading.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../test/helpers/sockvisor.js';

/** Compiles stamp.c into dir and returns the executable's path. */
export function buildStamp(dir: string): string {
  const out = join(dir, 'stamp');
  execFileSync('cc', ['-O2', '-static', '-o', out, join(repoRoot, 'bench', 'lib', 'stamp.c')]);
  return out;
}

export interface Stamp {
  /** CLOCK_MONOTONIC in ns when the child ran, comparable with process.hrtime.bigint() */
  atNs: bigint;
  pid: number;
}

/** Every stamp written to file so far, in order. */
export function readStamps(file: string): Stamp[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ns, pid] = line.split(' ');
      return { atNs: BigInt(ns!), pid: Number(pid) };
    });
}
