// What reading uWSGI's ini costs at start: time from starting sockvisor to its child being started
// (the `child.started` record), for the same uWSGI given on the command line and through --ini,
// whose sockets sockvisor reads and then confirms with `uwsgi --ini ... --get ...`.
// Run as root after `npm run build`: node dist/bench/ini-startup.js [runs]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const app = join(root, 'examples', 'app.py');
const runs = Number(process.argv[2] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'sockvisor-bench-'));
const socket = join(dir, 'app.sock');
const uwsgiArgs = ['--plugin', 'python3', '--master', '--processes', '1', '--wsgi-file', app, '--need-app', '--disable-logging'];
const ini = join(dir, 'app.ini');
writeFileSync(ini, `[uwsgi]\nplugin = python3\nmaster = true\nprocesses = 1\nwsgi-file = ${app}\nneed-app = true\ndisable-logging = true\nsocket = ${socket}\n`);

/** ms from spawning sockvisor to its child.started record; then stops it and waits for its exit. */
function timeToChild(args: string[]): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, [cli, '--log-format', 'json', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let buffer = '';
    let elapsed: number | null = null;
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      if (elapsed === null && buffer.includes('"event":"child.started"')) {
        elapsed = performance.now() - started;
        proc.kill('SIGTERM');
      }
    });
    proc.on('exit', () => (elapsed === null ? reject(new Error(`no child started:\n${buffer}`)) : resolvePromise(elapsed)));
  });
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${median.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
}

const commandLine: number[] = [];
const viaIni: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    commandLine.push(await timeToChild(['-s', socket, '--', 'uwsgi', ...uwsgiArgs]));
    viaIni.push(await timeToChild(['--', 'uwsgi', '--ini', ini]));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`runs: ${runs} each, alternating`);
console.log(`sockvisor -s PATH -- uwsgi <options>        start to child: ${summary(commandLine)}`);
console.log(`sockvisor -- uwsgi --ini app.ini (+ --get)   start to child: ${summary(viaIni)}`);
console.log(`cost of reading and confirming the ini: ${(viaIni.sort((a, b) => a - b)[Math.floor(runs / 2)]! - commandLine.sort((a, b) => a - b)[Math.floor(runs / 2)]!).toFixed(1)} ms (medians)`);
