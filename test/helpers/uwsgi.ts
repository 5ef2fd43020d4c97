// The real uWSGI from Debian (uwsgi-core + uwsgi-plugin-python3) running the bundled example app.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './sockvisor.js';

/** /usr/bin/uwsgi (the alternatives link to uwsgi-core), else uwsgi-core itself. */
export const UWSGI = existsSync('/usr/bin/uwsgi') ? '/usr/bin/uwsgi' : '/usr/bin/uwsgi-core';
/** The example WSGI app: answers `hello from uWSGI pid <master pid>`. */
export const APP = join(repoRoot, 'examples', 'app.py');

/** A small uWSGI: python3 plugin, a master and one worker, the example app, no request log. */
export function uwsgiArgs(extra: string[] = []): string[] {
  return ['--plugin', 'python3', '--master', '--processes', '1', '--wsgi-file', APP, '--need-app', '--disable-logging', ...extra];
}
