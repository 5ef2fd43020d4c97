import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRun } from '../../src/config/run-config.js';
import { quoteExecArg, runtimeDirectories, systemdUnit } from '../../src/systemd/unit.js';
import { UWSGI } from '../helpers/uwsgi.js';

function unitFor(runArgs: string[], options: Parameters<typeof planRun>[0], env: NodeJS.ProcessEnv = {}): string {
  const plan = planRun(options, { cwd: '/srv/app', env: { PATH: '/usr/bin:/bin' }, preflight: false });
  return systemdUnit({ plan, execStart: ['/usr/bin/node', '/opt/sockvisor/dist/src/cli/sockvisor.js'], runArgs, commandArgs: options.command.slice(1), env });
}

test('a uWSGI unit: Type=notify, reload by SIGHUP, KillMode=mixed, stop timeout above sockvisor\'s, /run folder made', () => {
  const unit = unitFor(['-s', '/run/app/app.sock', '--stop-timeout', '20'], {
    socket: ['/run/app/app.sock'],
    stopTimeout: 20,
    command: ['uwsgi', '--master', '--wsgi-file', 'app.py'],
  });
  const lines = unit.split('\n');
  for (const expected of ['Type=notify', 'ExecReload=/bin/kill -HUP $MAINPID', 'KillMode=mixed', 'KillSignal=SIGTERM', 'TimeoutStopSec=25', 'RuntimeDirectory=app', 'RuntimeDirectoryMode=0755', 'WorkingDirectory=/srv/app']) {
    assert.ok(lines.includes(expected), `missing '${expected}' in:\n${unit}`);
  }
  // COMMAND resolved to a full path (systemd's PATH is not the shell's), its arguments as typed.
  assert.match(unit, new RegExp(`ExecStart=/usr/bin/node /opt/sockvisor/dist/src/cli/sockvisor.js \\\\\\n    run -s /run/app/app.sock --stop-timeout 20 \\\\\\n    -- ${UWSGI} --master --wsgi-file app.py\\n`));
});

test('the start timeout covers a long handover timeout; SOCKVISOR_* variables are kept', () => {
  const unit = unitFor(['--handover-timeout', '120'], { socket: ['/tmp/x.sock'], handoverTimeout: 120, command: ['sleep', '1000'] }, { SOCKVISOR_SOCKET_MODE: '0660', HOME: '/root' });
  assert.match(unit, /^TimeoutStartSec=150$/m);
  assert.match(unit, /^Environment=SOCKVISOR_SOCKET_MODE=0660$/m);
  assert.doesNotMatch(unit, /HOME/);
  assert.doesNotMatch(unit, /RuntimeDirectory/, 'a socket outside /run needs no runtime folder');
});

test('ExecStart words are escaped for systemd: $ and % doubled, spaces and quotes quoted', () => {
  assert.equal(quoteExecArg('--env=X=$HOME'), '--env=X=$$HOME');
  assert.equal(quoteExecArg('100%'), '100%%');
  assert.equal(quoteExecArg('my app.py'), '"my app.py"');
  assert.equal(quoteExecArg('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quoteExecArg(';'), '";"');
});

test('runtime folders are the socket folders under /run (and /var/run)', () => {
  assert.deepEqual(runtimeDirectories(['/run/app/a.sock', '/run/app/b.sock', '/var/run/uwsgi/x/c.sock', '/run/top.sock', '/srv/d.sock']), ['app', 'uwsgi/x']);
});
