// The real uWSGI from Debian (uwsgi-core + uwsgi-plugin-python3) running the bundled example app.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { killGroup, waitGone, waitUntil, workersOf } from './proc.js';
import { repoRoot } from './sockvisor.js';

/** /usr/bin/uwsgi (the alternatives link to uwsgi-core), else uwsgi-core itself. */
export const UWSGI = existsSync('/usr/bin/uwsgi') ? '/usr/bin/uwsgi' : '/usr/bin/uwsgi-core';
/** The example WSGI app: answers `hello from uWSGI pid <master pid>`. */
export const APP = join(repoRoot, 'examples', 'app.py');

/** A small uWSGI: python3 plugin, a master and one worker, the example app, no request log. */
export function uwsgiArgs(extra: string[] = []): string[] {
  return ['--plugin', 'python3', '--master', '--processes', '1', '--wsgi-file', APP, '--need-app', '--disable-logging', ...extra];
}

const rawUwsgis = new Set<ChildProcess>();

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * uWSGI as people run it today, without sockvisor: it binds the path itself (mode 0777 & ~umask).
 * In a process group of its own, stopped by stopRawUwsgi / stopAllRawUwsgis (by pid).
 */
export async function startRawUwsgi(path: string, extra: string[] = []): Promise<ChildProcess> {
  const proc = spawn(UWSGI, uwsgiArgs(['-s', path, ...extra]), { detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
  rawUwsgis.add(proc);
  const end = Date.now() + 10000;
  while (!existsSync(path) || (await answers(path)) === false) {
    if (Date.now() > end) throw new Error(`raw uWSGI did not create ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // Its worker: forked once the app is loaded, it takes what waits in the backlog.
  if (!(await waitUntil(() => workersOf(proc.pid!).length > 0, 10000))) throw new Error(`raw uWSGI ${proc.pid} started no worker`);
  return proc;
}

/** Kills a raw uWSGI's whole process group (master and workers) and waits for the master. */
export async function stopRawUwsgi(proc: ChildProcess): Promise<void> {
  rawUwsgis.delete(proc);
  if (proc.pid === undefined) return;
  killGroup(proc.pid);
  await waitGone(proc.pid, 5000);
}

/** Stops every raw uWSGI this test file started. */
export async function stopAllRawUwsgis(): Promise<void> {
  for (const proc of [...rawUwsgis]) await stopRawUwsgi(proc);
}
