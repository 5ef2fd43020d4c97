// `npm run bench`: every comparison in one run on this machine, written to docs/benchmarks.md with
// the commands, the machine and the figures side by side, plus SVG plots of latency over time.
// The machine may be shared and noisy: compare the setups within one run (ratios), not across runs.
// Each section lives in bench/sections/; `node dist/bench/run.js NAME...` runs only those sections
// and prints their markdown without writing anything.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../test/helpers/tmp.js';
import { stopAll, type Env, type Section } from './lib/common.js';
import { footprint } from './sections/footprint.js';
import { overhead } from './sections/overhead.js';
import { reload } from './sections/reload.js';
import { restartLatencySection } from './sections/restart-latency.js';
import { restarts } from './sections/restarts.js';
import { scale } from './sections/scale.js';
import { startLatency } from './sections/start-latency.js';

/** In the order they run and appear in docs/benchmarks.md. */
const SECTIONS: Section[] = [restarts, reload, overhead, footprint, restartLatencySection, startLatency, scale];

/** Installs the packages of scripts/bench-packages.txt that are missing (apt-get, as root). */
function ensurePackages(): void {
  const wanted = readFileSync(join(repoRoot, 'scripts', 'bench-packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const missing = wanted.filter((pkg) => {
    try {
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).includes('install ok installed');
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The first line a tool prints about its version (nginx and wrk print it on stderr). */
function version(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
}

function machine(): string[] {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return [
    `- CPU: ${cpus()[0]?.model ?? '?'}, nproc ${cpus().length}; kernel ${release()}; load average at start ${load} (the machine is shared with other jobs)`,
    `- uWSGI ${version('uwsgi', ['--version'])}, ${version('nginx', ['-v'])}, supervisord ${version('supervisord', ['--version'])}, ${version('wrk', ['--version'])}, Node ${process.version}`,
  ];
}

const BEGIN = '<!-- BEGIN npm run bench: this part is rewritten by `npm run bench` (bench/run.ts); the rest of the file is kept -->';
const END = '<!-- END npm run bench -->';

/** Replaces this script's part of docs/benchmarks.md, keeping the sections other benchmarks wrote by hand. */
function writeSection(file: string, section: string): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const begin = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const block = `${BEGIN}\n${section.trimEnd()}\n${END}`;
  const text = begin >= 0 && end > begin ? old.slice(0, begin) + block + old.slice(end + END.length) : `${old.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

async function main(): Promise<void> {
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((name) => !SECTIONS.some((s) => s.name === name));
  if (unknown.length > 0) {
    console.error(`no bench section ${unknown.join(', ')}; the sections: ${SECTIONS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  ensurePackages();
  const started = new Date();
  // makeTempDir: mode 0755, so that nginx's www-data reaches the sockets inside.
  const env: Env = { dir: await makeTempDir('sockvisor-bench-'), started: { setups: [], nginx: [] } };
  const machineLines = machine();
  try {
    const parts: string[][] = [];
    for (const section of SECTIONS.filter((s) => chosen.length === 0 || chosen.includes(s.name))) {
      parts.push(await section.run(env));
      await stopAll(env);
    }
    const body = parts.flatMap((lines) => [...lines, '']);
    if (chosen.length > 0) {
      console.log(['## Machine', '', ...machineLines, '', ...body].join('\n'));
      return;
    }
    const md = [
      `Written by \`npm run bench\` (bench/run.ts) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; every figure below comes from that one run.`,
      'The machine is shared with other jobs running builds and tests, so absolute figures are noisy; compare the setups',
      'side by side within this run (each table was measured back to back, the overhead runs alternate).',
      '',
      '## Machine',
      '',
      ...machineLines,
      '',
      ...body,
      '## Run it',
      '',
      '```sh',
      'npm run bench            # as root; installs scripts/bench-packages.txt (wrk, supervisor) if missing; about 11 minutes',
      'node dist/bench/run.js reload footprint   # only those sections, printed, nothing written',
      '```',
      '',
    ];
    writeSection(join(repoRoot, 'docs', 'benchmarks.md'), md.join('\n'));
    console.log('wrote docs/benchmarks.md and the plots in docs/');
  } finally {
    await stopAll(env);
    await cleanupTempDirs();
  }
}

await main();
process.exit(0);
