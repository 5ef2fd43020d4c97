#!/usr/bin/env node
// The `sockvisor` command. Node loads an ES module's static imports before any of its code runs:
// with a low open-file limit that load itself fails (EMFILE: an abort, or a misleading "Cannot
// find package"), so this entry imports nothing of the app until the limit is checked.
import { readFileSync } from 'node:fs';

/**
 * The least soft RLIMIT_NOFILE sockvisor starts with: loading it took 66 descriptors when measured
 * (Node 20: `ulimit -n 65` fails, 66 serves and hands over), doubled for margin.
 */
const MIN_OPEN_FILES = 128;

/** The soft open-file limit from /proc/self/limits (Node has no getrlimit); null when unreadable. */
function softOpenFilesLimit(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined) return null;
  return soft === 'unlimited' ? Infinity : Number.parseInt(soft, 10);
}

const limit = softOpenFilesLimit();
if (limit !== null && limit < MIN_OPEN_FILES) {
  process.stderr.write(
    `sockvisor: the open-file limit (ulimit -n) is ${limit}, too low for sockvisor to start (it needs ${MIN_OPEN_FILES}): ` +
      `raise it with 'ulimit -n 1024' before starting sockvisor, or LimitNOFILE=1024 in its systemd unit.\n`,
  );
  process.exit(2);
}
await import('./main.js');
