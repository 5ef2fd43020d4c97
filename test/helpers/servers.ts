// The Python servers other than uWSGI, as Debian ships them, and the test apps they serve.
import { join } from 'node:path';
import { repoRoot } from './sockvisor.js';

/** Debian's Python, which has gunicorn and uvicorn (python3 in PATH may be another one). */
export const PYTHON = '/usr/bin/python3';
export const GUNICORN = '/usr/bin/gunicorn';
/** test/fixtures: the WSGI and ASGI apps (each answers with its pid). */
export const FIXTURES = join(repoRoot, 'test', 'fixtures');
