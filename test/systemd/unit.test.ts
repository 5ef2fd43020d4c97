import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { planRun } from '../../src/config/run-config.js';
import { quoteExecArg, runtimeDirectories, sockvisorExecStart, systemdUnit, templateUnit } from '../../src/systemd/unit.js';
import { UWSGI } from '../helpers/uwsgi.js';

function unitFor(runArgs: string[], options: Parameters<typeof planRun>[0], env: NodeJS.ProcessEnv = {}): string {
  const plan = planRun(options, { cwd: '/srv/app', env: { PATH: '/usr/bin:/bin' }, preflight: false });
  return systemdUnit({ plan, execStart: ['/usr/bin/node', '/opt/sockvisor/dist/src/cli/main.js'], runArgs, commandArgs: options.command.slice(1), env });
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
  assert.match(unit, new RegExp(`ExecStart=/usr/bin/node /opt/sockvisor/dist/src/cli/main.js \\\\\\n    run -s /run/app/app.sock --stop-timeout 20 \\\\\\n    -- ${UWSGI} --master --wsgi-file app.py\\n`));
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

test('the template unit runs /etc/sockvisor/%i.toml with the installed command, tags the journal with the app, reload = handover', () => {
  const unit = templateUnit(['/usr/bin/sockvisor']);
  const lines = unit.split('\n');
  for (const expected of [
    'ExecStart=/usr/bin/sockvisor run --config /etc/sockvisor/%i.toml',
    'SyslogIdentifier=sockvisor-%i',
    'Type=notify',
    'NotifyAccess=main',
    'ExecReload=/bin/kill -HUP $MAINPID',
    'KillMode=mixed',
    'TimeoutStopSec=15',
    'RuntimeDirectory=sockvisor/%i',
    'RuntimeDirectoryMode=0755',
    'Restart=on-failure',
    'RestartPreventExitStatus=2',
    'WantedBy=multi-user.target',
  ]) {
    assert.ok(lines.includes(expected), `missing '${expected}' in:\n${unit}`);
  }
  // %i stays a specifier; other words are escaped as usual.
  assert.match(templateUnit(['/opt/my node/bin/node', '/opt/s/main.js']), /^ExecStart="\/opt\/my node\/bin\/node" \/opt\/s\/main\.js run --config \/etc\/sockvisor\/%i\.toml$/m);
});

test('ExecStart is the installed command when it leads to the running script and systemd finds this node; else node and the script', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sockvisor-unit-'));
  try {
    const pkg = join(dir, 'lib', 'sockvisor', 'dist', 'src', 'cli');
    const bin = join(dir, 'bin');
    const sysBin = join(dir, 'sysbin');
    for (const d of [pkg, bin, sysBin]) mkdirSync(d, { recursive: true });
    const script = join(pkg, 'main.js');
    writeFileSync(script, '', { mode: 0o755 });
    symlinkSync(script, join(bin, 'sockvisor'));
    symlinkSync(process.execPath, join(sysBin, 'node'));
    const launcher = join(bin, 'sockvisor');
    // Started as the launcher (a PATH command), or as the script with the launcher on PATH.
    assert.deepEqual(sockvisorExecStart({ script: launcher, node: process.execPath, path: [], systemdPath: [sysBin] }), [launcher]);
    assert.deepEqual(sockvisorExecStart({ script, node: process.execPath, path: ['relative', bin], systemdPath: [sysBin] }), [launcher]);
    // No launcher, or systemd would start another node (nvm outside its PATH): the absolute pair.
    assert.deepEqual(sockvisorExecStart({ script, node: process.execPath, path: [], systemdPath: [sysBin] }), [process.execPath, script]);
    assert.deepEqual(sockvisorExecStart({ script: launcher, node: process.execPath, path: [], systemdPath: [join(dir, 'none')] }), [process.execPath, script]);
    // A `sockvisor` on PATH that is another installation is not this one.
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'sockvisor'), '', { mode: 0o755 });
    assert.deepEqual(sockvisorExecStart({ script, node: process.execPath, path: [other], systemdPath: [sysBin] }), [process.execPath, script]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
