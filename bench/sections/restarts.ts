// kill -9 of the uWSGI master under load: uWSGI binding its own socket in a restart loop,
// supervisord's [fcgi-program], and sockvisor, one after the other behind the same nginx setup.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../test/helpers/sockvisor.js';
import { killMaster, loadTable, sectionDir, serve, stopAll, underLoad, type Env, type LoadRun, type Section } from '../lib/common.js';
import { startRawLoop, startSockvisorSetup, startSupervisord, type Setup } from '../lib/setups.js';
import { latencyPlot } from '../lib/svg.js';

const LOAD_S = 12;

async function measure(env: Env): Promise<LoadRun[]> {
  const runs: LoadRun[] = [];
  const factories: [string, (dir: string) => Promise<Setup>][] = [
    ['uWSGI binds its socket itself, restarted in a loop', (d) => startRawLoop(d, 1)],
    ['supervisord [fcgi-program], uWSGI on fd 0', (d) => startSupervisord(d, 1)],
    ['sockvisor, uWSGI on fd://3', (d) => startSockvisorSetup(d, 1)],
  ];
  for (const [name, factory] of factories) {
    const setup = await factory(sectionDir(env, `restarts-${runs.length}`));
    const nginx = await serve(env, setup);
    console.log(`restarts under load: ${name}`);
    runs.push(await underLoad(name, nginx, LOAD_S, [2, 4, 6, 8, 10], () => killMaster(setup)));
    await stopAll(env);
  }
  return runs;
}

export const restarts: Section = {
  name: 'restarts',
  async run(env) {
    const runs = await measure(env);
    writeFileSync(
      join(repoRoot, 'docs', 'bench-restarts.svg'),
      latencyPlot(
        'nginx → unix socket → uWSGI, uWSGI master killed (kill -9) every 2 s',
        runs.map((r) => ({ name: r.name, results: r.results, marks: r.marks })),
        'kill -9 of the uWSGI master',
      ),
    );
    return [
      '## How the load is made',
      '',
      `- nginx (1 worker as www-data) → \`uwsgi_pass unix:SOCKET\` → uWSGI 2.0 with the python3 plugin, \`--master\`, the app examples/app.py (GET / answers a line of text).`,
      `- wrk gives throughput and the latency distribution: \`${runs[0]!.wrk.command.replace(/http:\/\/\S+/, 'http://127.0.0.1:PORT/')}\`.`,
      '- wrk reports no per-request times (its Lua `response()` hook gets no latency), so the plots come from a second client',
      '  running at the same time: two Node.js loops of `http.request` with keep-alive off (a new connection per request),',
      '  each request recorded with its start time, latency and status.',
      '',
      '## Restarts under load',
      '',
      `wrk for ${LOAD_S} s while the uWSGI master (1 worker) is killed with \`kill -9\` at 2, 4, 6, 8 and 10 s.`,
      '- uWSGI alone: `uwsgi -s SOCKET --chmod-socket=660 --chown-socket=root:www-data ...` restarted at once in a loop (like `while true; do uwsgi ...; done`): it unlinks and re-binds the path at every start.',
      '- supervisord: `[fcgi-program:app]` with `socket=unix://SOCKET`, `socket_owner=root:www-data`, `socket_mode=0660`, `autorestart=true`, `startsecs=0`; supervisord binds the socket once and passes it to uWSGI as fd 0 (`--socket fd://0`).',
      '- sockvisor: `sockvisor -s SOCKET --socket-owner root:www-data -- uwsgi ...` (uWSGI gets `--socket fd://3`).',
      '',
      ...loadTable(runs),
      '',
      'Why the others fail: uWSGI alone unlinks and re-binds the path at every start, so nginx meets a missing path, a refused',
      'connection or a socket not yet chmodded. supervisord holds the socket only while a process uses it: its socket manager',
      'closes it when the last process of the group is reaped and binds it again at the next spawn (supervisor/socket_manager.py,',
      "reference count), and it respawns on its own 1 s clock; connections queued in the old socket's backlog are lost too.",
      'sockvisor keeps the one listening socket open from start to stop: connections wait in its backlog until the next uWSGI accepts.',
      '',
      '![latency over time across restarts](bench-restarts.svg)',
    ];
  },
};
