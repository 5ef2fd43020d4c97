// The unit file a user installs: checked for what they rely on (systemd waits longer than sockvisor
// before killing, reload is a SIGHUP to sockvisor, ...), and by systemd itself (systemd-analyze verify).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { planRun } from '../../src/config/run-config.js';
import { quoteExecArg, runtimeDirectories, sockvisorExecStart, systemdUnit, templateUnit } from '../../src/systemd/unit.js';
import { repoRoot } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { UWSGI } from '../helpers/uwsgi.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-unit-');
});
after(cleanupTempDirs);

const EXEC_START = ['/usr/bin/node', '/opt/sockvisor/dist/src/cli/sockvisor.js'];

function unitFor(runArgs: string[], options: Parameters<typeof planRun>[0], env: NodeJS.ProcessEnv = {}, execStart = EXEC_START): string {
  const plan = planRun(options, { cwd: '/srv/app', env: { PATH: '/usr/bin:/bin' }, preflight: false });
  return systemdUnit({ plan, execStart, runArgs, commandArgs: options.command.slice(1), env });
}

/** The value of a directive of the unit (the last one, as systemd reads them), or undefined. */
function directive(unit: string, key: string): string | undefined {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .at(-1)
    ?.slice(key.length + 1);
}

/** A time span of systemd.time(7) in seconds: a bare number, or numbers with s/min/h units. */
function seconds(span: string | undefined): number {
  assert.ok(span !== undefined, 'no such directive');
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+)\s*([a-z]*)/g)) {
    assert.ok(unit! in units, `an unknown unit in '${span}'`);
    total += Number(n) * units[unit!]!;
  }
  assert.ok(total > 0, `'${span}' is not a finite time span`);
  return total;
}

test("a uWSGI unit: Type=notify, reload by SIGHUP, KillMode=mixed, stop timeout above sockvisor's, /run folder made", () => {
  const unit = unitFor(['-s', '/run/app/app.sock', '--stop-timeout', '20'], {
    socket: ['/run/app/app.sock'],
    stopTimeout: 20,
    command: ['uwsgi', '--master', '--wsgi-file', 'app.py'],
  });
  const lines = unit.split('\n');
  // Started once sockvisor says READY=1; `systemctl reload` is a SIGHUP to sockvisor (a handover);
  // a stop is a SIGTERM to sockvisor alone, which stops COMMAND its own way.
  const wanted = ['Type=notify', 'ExecReload=/bin/kill -HUP $MAINPID', 'KillMode=mixed', 'KillSignal=SIGTERM'];
  for (const expected of [...wanted, 'RuntimeDirectory=app', 'RuntimeDirectoryMode=0755', 'WorkingDirectory=/srv/app']) {
    assert.ok(lines.includes(expected), `missing '${expected}' in:\n${unit}`);
  }
  // systemd's own SIGKILL comes only after sockvisor's --stop-timeout (20 s), with at least a second
  // left for sockvisor to kill COMMAND itself, reap it and remove the socket file.
  const stop = directive(unit, 'TimeoutStopSec');
  assert.ok(seconds(stop) >= 21, `TimeoutStopSec=${stop} leaves sockvisor's --stop-timeout 20 no time`);
  // COMMAND resolved to a full path (systemd's PATH is not the shell's), its arguments as typed.
  assert.match(
    unit,
    new RegExp(
      `ExecStart=/usr/bin/node /opt/sockvisor/dist/src/cli/sockvisor.js \\\\\\n    run -s /run/app/app.sock --stop-timeout 20 \\\\\\n    -- ${UWSGI} --master --wsgi-file app.py\\n`,
    ),
  );
});

test('the start timeout covers a long handover timeout; SOCKVISOR_* variables are kept', () => {
  const unit = unitFor(
    ['--handover-timeout', '120'],
    { socket: ['/tmp/x.sock'], handoverTimeout: 120, command: ['sleep', '1000'] },
    { SOCKVISOR_SOCKET_MODE: '0660', HOME: '/root' },
  );
  // A new child may take up to --handover-timeout (120 s) to be ready: systemd must not give up first.
  const start = directive(unit, 'TimeoutStartSec');
  assert.ok(seconds(start) > 120, `TimeoutStartSec=${start} is not above --handover-timeout 120`);
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
  assert.deepEqual(runtimeDirectories(['/run/app/a.sock', '/run/app/b.sock', '/var/run/uwsgi/x/c.sock', '/run/top.sock', '/srv/d.sock']), [
    'app',
    'uwsgi/x',
  ]);
});

const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

const noAnalyze = !ANALYZE && 'systemd-analyze not found (Debian package systemd)';
test('systemd-analyze verify accepts the units, with no warning', { skip: noAnalyze }, () => {
  // Real programs: verify checks that ExecStart's and ExecReload's programs exist.
  const execStart = [process.execPath, join(repoRoot, 'dist', 'src', 'cli', 'sockvisor.js')];
  const units = {
    'sockvisor-test-uwsgi.service': unitFor(
      ['-s', '/run/app/app.sock', '--stop-timeout', '20'],
      { socket: ['/run/app/app.sock'], stopTimeout: 20, command: ['uwsgi', '--master', '--wsgi-file', 'my app.py'] },
      {},
      execStart,
    ),
    'sockvisor-test-env.service': unitFor(
      ['--handover-timeout', '120'],
      { socket: ['/tmp/x.sock'], handoverTimeout: 120, command: ['sleep', '1000'] },
      { SOCKVISOR_SOCKET_MODE: '0660', SOCKVISOR_X: 'a b$%' },
      execStart,
    ),
  };
  // A template is verified through an instance name: the file is named sockvisor-test@shop.service.
  const units2 = { ...units, 'sockvisor-test@shop.service': templateUnit(execStart) };
  for (const [name, text] of Object.entries(units2)) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const result = spawnSync(ANALYZE!, ['verify', '--man=no', file], { encoding: 'utf8' });
    assert.equal(result.error, undefined);
    // Unknown keys and values systemd cannot parse are only warnings (exit 0): none is accepted.
    const said = `systemd-analyze verify ${name}:\n${result.stderr}${text}`;
    assert.deepEqual([result.status, result.stdout, result.stderr], [0, '', ''], said);
  }
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
  assert.match(
    templateUnit(['/opt/my node/bin/node', '/opt/s/main.js']),
    /^ExecStart="\/opt\/my node\/bin\/node" \/opt\/s\/main\.js run --config \/etc\/sockvisor\/%i\.toml$/m,
  );
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
    assert.deepEqual(sockvisorExecStart({ script: launcher, node: process.execPath, path: [], systemdPath: [join(dir, 'none')] }), [
      process.execPath,
      script,
    ]);
    // A `sockvisor` on PATH that is another installation is not this one.
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'sockvisor'), '', { mode: 0o755 });
    assert.deepEqual(sockvisorExecStart({ script, node: process.execPath, path: [other], systemdPath: [sysBin] }), [
      process.execPath,
      script,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
