// Requests per second through nginx: uWSGI binding its own socket against the same uWSGI behind
// sockvisor, alternating wrk runs.
import { fmt, sectionDir, serve, spread, stopAll, type Env, type Section } from '../lib/common.js';
import { wrk, type WrkResult } from '../lib/load.js';
import { startRawLoop, startSockvisorSetup } from '../lib/setups.js';

async function measure(env: Env): Promise<{ raw: WrkResult[]; sv: WrkResult[] }> {
  const rawNginx = await serve(env, await startRawLoop(sectionDir(env, 'overhead-raw'), 1));
  const svNginx = await serve(env, await startSockvisorSetup(sectionDir(env, 'overhead-sv'), 1));
  console.log('overhead: alternating wrk runs');
  const raw: WrkResult[] = [];
  const sv: WrkResult[] = [];
  for (let i = 0; i < 4; i++) {
    raw.push(await wrk(`http://127.0.0.1:${rawNginx.port}/`, 5));
    sv.push(await wrk(`http://127.0.0.1:${svNginx.port}/`, 5));
  }
  await stopAll(env);
  return { raw, sv };
}

export const overhead: Section = {
  name: 'overhead',
  async run(env) {
    const over = await measure(env);
    const sum = (xs: WrkResult[]): number => xs.reduce((a, b) => a + b.requests, 0);
    const ratio = sum(over.sv) / sum(over.raw);
    return [
      '## Overhead',
      '',
      'Requests per second through nginx, uWSGI binding its own socket vs the same uWSGI behind sockvisor, 4 alternating wrk runs of 5 s each',
      '(`wrk -t2 -c10 -d5s --latency`). sockvisor is not in the data path: nginx talks to uWSGI on the socket sockvisor created.',
      '',
      '| run | uWSGI alone, req/s | behind sockvisor, req/s |',
      '|---|---|---|',
      ...over.raw.map((r, i) => `| ${i + 1} | ${fmt(r.rps)} | ${fmt(over.sv[i]!.rps)} |`),
      `| total requests | ${sum(over.raw)} | ${sum(over.sv)} |`,
      '',
      `Ratio sockvisor / alone: **${ratio.toFixed(3)}** (goal ≥ 0.98). For scale, the runs of uWSGI alone differ from one another by up to ${fmt(spread(over.raw) * 100, 1)} % on this shared machine.`,
    ];
  },
};
