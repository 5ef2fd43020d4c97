// What reading uWSGI's ini costs at start: time from starting sockvisor to its child being started
// (the `child.started` record), for the same uWSGI given on the command line and through --ini,
// whose sockets sockvisor reads and then confirms with `uwsgi --ini ... --get ...`.
// Run as root after `npm run build`: node dist/bench/ini-startup.js [runs]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../test/helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../test/helpers/tmp.js';
import { APP, UWSGI, uwsgiArgs } from '../test/helpers/uwsgi.js';

const runs = Number(process.argv[2] ?? 20);
const dir = await makeTempDir('sockvisor-bench-');
const socket = join(dir, 'app.sock');
const ini = join(dir, 'app.ini');
// uwsgiArgs() as ini lines.
writeFileSync(
  ini,
  `[uwsgi]\nplugin = python3\nmaster = true\nprocesses = 1\nwsgi-file = ${APP}\nneed-app = true\ndisable-logging = true\nsocket = ${socket}\n`,
);

/** ms from spawning sockvisor to its child.started record; then stops it and waits for its exit. */
function timeToChild(args: string[]): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, [cliPath, '--log-format', 'json', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
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

/** The middle value (the upper one of the two middles for an even count). */
function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

function summary(values: number[]): string {
  return `median ${median(values).toFixed(1)} ms, min ${Math.min(...values).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;
}

const commandLine: number[] = [];
const viaIni: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    commandLine.push(await timeToChild(['-s', socket, '--', UWSGI, ...uwsgiArgs()]));
    viaIni.push(await timeToChild(['--', UWSGI, '--ini', ini]));
  }
} finally {
  await cleanupTempDirs();
}
console.log(`runs: ${runs} each, alternating`);
console.log(`sockvisor -s PATH -- uwsgi <options>        start to child: ${summary(commandLine)}`);
console.log(`sockvisor -- uwsgi --ini app.ini (+ --get)   start to child: ${summary(viaIni)}`);
console.log(`cost of reading and confirming the ini: ${(median(viaIni) - median(commandLine)).toFixed(1)} ms (medians)`);
