// A reload of an app that takes 1 s to import, under load: uWSGI's own reload (SIGHUP to its
// master) against sockvisor's handover (SIGHUP to sockvisor), with a request in flight at each.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../test/helpers/sockvisor.js';
import { loadTable, sectionDir, serve, sleep, stopAll, underLoad, type Env, type LoadRun, type Section } from '../lib/common.js';
import { startRawLoop, startSockvisorSetup, type Setup } from '../lib/setups.js';
import { latencyPlot } from '../lib/svg.js';

const LOAD_S = 12;

async function measure(env: Env): Promise<LoadRun[]> {
  const runs: LoadRun[] = [];
  const slow = { SLOW_IMPORT: '1' };
  const factories: [string, (dir: string) => Promise<Setup>][] = [
    ["uWSGI's own reload (SIGHUP to its master)", (d) => startRawLoop(d, 2, slow)],
    ["sockvisor's handover (SIGHUP to sockvisor)", (d) => startSockvisorSetup(d, 2, slow)],
  ];
  for (const [name, factory] of factories) {
    const setup = await factory(sectionDir(env, `reload-${runs.length}`));
    const nginx = await serve(env, setup);
    console.log(`reload with a 1 s import: ${name}`);
    runs.push(await underLoad(name, nginx, LOAD_S, [2, 5, 8], () => process.kill(setup.reloadPid(), 'SIGHUP'), true));
    await sleep(2500); // the last in-flight request and the last old generation
    await stopAll(env);
  }
  return runs;
}

export const reload: Section = {
  name: 'reload',
  async run(env) {
    const runs = await measure(env);
    writeFileSync(
      join(repoRoot, 'docs', 'bench-reload.svg'),
      latencyPlot(
        'Reload of an app that takes 1 s to import, every 3 s',
        runs.map((r) => ({ name: r.name, results: r.results, marks: r.marks })),
        'reload (SIGHUP)',
      ),
    );
    return [
      '## Reload of an app that takes 1 s to import',
      '',
      `\`SLOW_IMPORT=1\` makes the app sleep 1 s at import, like a big Django project; uWSGI runs 2 workers. wrk for ${LOAD_S} s, a reload at 2, 5 and 8 s,`,
      'and 150 ms before each reload a request to `/sleep?s=2` that is still in flight when the reload starts.',
      "- uWSGI's own reload: `kill -HUP` to the master of `uwsgi -s SOCKET ...` (graceful: workers finish, then the master re-execs and imports the app again).",
      "- sockvisor's handover: `kill -HUP` to sockvisor: a second uWSGI starts on the held socket, imports the app while the first one serves, says READY=1, then the first gets SIGPWR (mapped to uWSGI's graceful shutdown) and finishes its requests.",
      '',
      ...loadTable(runs, (r) => r.inFlight.map((x) => x.status).join(', ')),
      '',
      '![latency over time across reloads](bench-reload.svg)',
    ];
  },
};
