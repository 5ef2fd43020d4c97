// From kill -9 of the child to the next child's first command, sockvisor against supervisord,
// with the same child started straight from Node as the baseline.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, median, pct, sectionDir, sleep, stopAll, type Env, type Section } from '../lib/common.js';
import { startSockvisorSetup, startSupervisord, type Setup } from '../lib/setups.js';

/** kill -9 of the child, then the time until the next child's first command ran (date +%s%N). */
async function restartLatency(setup: Setup, file: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  const lines = (): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  for (let i = 0; i < count; i++) {
    const before = lines().length;
    const pid = setup.masterPid();
    if (pid === null) throw new Error('no child to kill');
    const killedAt = performance.timeOrigin + performance.now();
    process.kill(pid, 'SIGKILL');
    const end = Date.now() + 10000;
    while (lines().length <= before) {
      if (Date.now() > end) throw new Error('no restart within 10 s');
      await sleep(2);
    }
    latencies.push(Number(BigInt(lines()[before]!) / 1000n) / 1000 - killedAt);
    await sleep(150); // past --healthy-after
  }
  return latencies;
}

/** The same child started straight from here (spawn → its date): what starting sh and date costs. */
async function baseline(dir: string, script: (file: string) => string, count: number): Promise<number[]> {
  const file = join(dir, 'baseline');
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = performance.timeOrigin + performance.now();
    const proc = spawn('/bin/sh', ['-c', script(file).replace('exec sleep 1000', 'true')], { stdio: 'ignore' });
    await new Promise((r) => proc.on('exit', r));
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    latencies.push(Number(BigInt(lines.at(-1)!) / 1000n) / 1000 - at);
  }
  return latencies;
}

async function measure(env: Env): Promise<{ sv: number[]; sup: number[]; base: number[]; command: string }> {
  const svDir = sectionDir(env, 'latency-sv');
  const supDir = sectionDir(env, 'latency-sup');
  const script = (file: string): string => `date +%s%N >> ${file}; exec sleep 1000`;
  const svFile = join(svDir, 'starts');
  const sv = await startSockvisorSetup(svDir, 1, {}, ['/bin/sh', '-c', script(svFile)], ['--healthy-after', '0.1']);
  env.started.setups.push(sv);
  await sleep(300);
  console.log('restart latency: sockvisor, 100 restarts');
  const svLat = await restartLatency(sv, svFile, 100);
  const base = await baseline(svDir, script, 100);
  const supFile = join(supDir, 'starts');
  // supervisord's config interpolates %(name)s: date's % must be doubled there.
  const sup = await startSupervisord(supDir, 1, {}, `/bin/sh -c "${script(supFile).replace(/%/g, '%%')}"`);
  env.started.setups.push(sup);
  await sleep(500);
  console.log('restart latency: supervisord, 20 restarts');
  const supLat = await restartLatency(sup, supFile, 20);
  await stopAll(env);
  return { sv: svLat, sup: supLat, base, command: script('FILE') };
}

export const restartLatencySection: Section = {
  name: 'restart-latency',
  async run(env) {
    const latency = await measure(env);
    const row = (name: string, xs: number[]): string =>
      `| ${name} | ${xs.length} | ${fmt(median(xs), 1)} ms | ${fmt(pct(xs, 90), 1)} ms | ${fmt(Math.max(...xs), 1)} ms |`;
    return [
      '## Restart latency',
      '',
      `From \`kill -9\` of the child to the new child's first command: the child is \`/bin/sh -c '${latency.command}'\`, so each start appends`,
      'CLOCK_REALTIME in ns and the bench subtracts the moment it sent the kill (it includes starting sh and date: an upper bound).',
      'sockvisor with `--healthy-after 0.1` (each run counts as healthy, so no backoff), 100 restarts; supervisord `[program]` with `autorestart=true`, `startsecs=0`, 20 restarts (it restarts on its own clock).',
      '',
      '| supervisor | restarts | median | p90 | max |',
      '|---|---|---|---|---|',
      row('sockvisor', latency.sv),
      row('supervisord', latency.sup),
      row("(baseline: the same sh started by Node's spawn, no death to notice)", latency.base),
      '',
      `sockvisor's own part (median minus the baseline's median): **${fmt(median(latency.sv) - median(latency.base), 1)} ms**.`,
      '',
      'Goal for sockvisor: median under 10 ms.',
    ];
  },
};
