// Memory and CPU of the supervising process at idle: sockvisor against supervisord, each with one
// uWSGI child, measured over the same 60 s.
import { fmt, sectionDir, sleep, stopAll, type Env, type Section } from '../lib/common.js';
import { startSockvisorSetup, startSupervisord, usage } from '../lib/setups.js';

const SETTLE_S = 15;

interface Footprint {
  name: string;
  start: { rssKb: number; cpuMs: number };
  end: { rssKb: number; cpuMs: number };
}

async function measure(env: Env): Promise<Footprint[]> {
  const sv = await startSockvisorSetup(sectionDir(env, 'idle-sv'), 1);
  env.started.setups.push(sv);
  const sup = await startSupervisord(sectionDir(env, 'idle-sup'), 1);
  env.started.setups.push(sup);
  // Past start-up: V8 compiles and collects for some seconds after a start, then sleeps.
  await sleep(SETTLE_S * 1000);
  console.log('footprint: 60 s idle');
  const targets = [
    { name: 'sockvisor (node)', pid: sv.supervisorPid! },
    { name: 'supervisord (python)', pid: sup.supervisorPid! },
  ];
  const start = targets.map((t) => usage(t.pid));
  await sleep(60000);
  const end = targets.map((t) => usage(t.pid));
  await stopAll(env);
  return targets.map((t, i) => ({ name: t.name, start: start[i]!, end: end[i]! }));
}

export const footprint: Section = {
  name: 'footprint',
  async run(env) {
    const idle = await measure(env);
    return [
      '## Footprint at idle',
      '',
      `One uWSGI child (1 worker), no requests, 60 s after ${SETTLE_S} s of settling; resident memory (VmRSS) and CPU time (utime + stime, 10 ms ticks) of the supervising process itself, both measured over the same 60 s.`,
      '',
      '| supervisor | RSS at start | RSS after 60 s | CPU time used in 60 s |',
      '|---|---|---|---|',
      ...idle.map(
        (f) =>
          `| ${f.name} | ${(f.start.rssKb / 1024).toFixed(1)} MB | ${(f.end.rssKb / 1024).toFixed(1)} MB | ${fmt(f.end.cpuMs - f.start.cpuMs)} ms |`,
      ),
      '',
      'Goals for sockvisor: under 60 MB, under 50 ms of CPU (it polls nothing: a pidfd and a datagram socket on the event loop).',
    ];
  },
};
