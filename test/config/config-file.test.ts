import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readConfigFile } from '../../src/config/config-file.js';
import { layerOptions, RUN_OPTIONS, unknownEnvironmentOptions } from '../../src/config/options.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-config-');
});
after(cleanupTempDirs);

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

test('a TOML file gives every option by its long name (or uWSGI spelling) and the command', () => {
  const name = file(
    'app.toml',
    `# the app behind nginx
socket = ["/run/app/app.sock", "health=127.0.0.1:9090"]
chmod-socket = "0660"
socket-owner = "root:www-data"
socket-backlog = 1024
restart = "on-failure"
stop-timeout = 2.5
log-level = "debug"
command = ["uwsgi", "--ini", "app.ini"]
`,
  );
  const config = readConfigFile(name, dir);
  assert.equal(config.path, join(dir, 'app.toml'));
  assert.deepEqual(config.options, {
    socket: ['/run/app/app.sock', 'health=127.0.0.1:9090'],
    socketMode: '0660',
    socketOwner: 'root:www-data',
    socketBacklog: 1024,
    restart: 'on-failure',
    stopTimeout: 2.5,
    logLevel: 'debug',
  });
  assert.deepEqual(config.command, ['uwsgi', '--ini', 'app.ini']);
});

test('JSON works the same, and one socket may be a plain string', () => {
  const config = readConfigFile(file('app.json', '{"socket": "/run/a.sock", "pass": "stdin"}'), dir);
  assert.deepEqual(config.options, { socket: ['/run/a.sock'], pass: 'stdin' });
});

test('an unknown key, a wrong type or a value outside the choices is refused naming the key and the file', () => {
  const refuses = (name: string, text: string, pattern: RegExp): void => {
    assert.throws(
      () => readConfigFile(file(name, text), dir),
      (e: Error) => e.name === 'UsageError' && pattern.test(e.message) && e.message.includes(join(dir, name)),
    );
  };
  refuses('typo.toml', 'socket-mdoe = "0660"', /'socket-mdoe' is not an option of sockvisor: use one of socket, socket-mode/);
  refuses('octal.toml', 'socket-mode = 0o660', /socket-mode must be a string such as "0660" .*not the number 432/);
  refuses('num.toml', 'stop-timeout = "10"', /stop-timeout must be a number \(unquoted\), not the string "10"/);
  refuses('choice.toml', 'restart = "sometimes"', /restart must be one of "always", "on-failure", "never", not the string "sometimes"/);
  refuses('list.toml', 'socket = [1, 2]', /socket must be a string or a list of strings, not a list/);
  refuses('cmd.toml', 'command = "uwsgi --ini app.ini"', /command must be a list of strings/);
  refuses('twice.toml', 'socket-mode = "0660"\nchmod-socket = "0600"', /socket-mode is given twice \(also as chmod-socket\)/);
  refuses('table.toml', '[socket]\npath = "/x"', /socket must be a string or a list of strings, not a table/);
  refuses('broken.toml', 'socket = ', /is not valid TOML/);
  refuses('broken.json', '{"socket": }', /is not valid JSON/);
  assert.throws(() => readConfigFile('app.yaml', dir), /must be named \*\.toml \(or \*\.json\)/);
  assert.throws(() => readConfigFile('missing.toml', dir), /Cannot read the config file '.*missing\.toml' \(ENOENT\)/);
});

test('layers: the first layer that gives an option wins, option by option', () => {
  assert.deepEqual(layerOptions({ socketMode: '0600' }, { socketMode: '0660', socket: ['/a'] }, { restart: 'never', socket: ['/b'] }), {
    socketMode: '0600',
    socket: ['/a'],
    restart: 'never',
  });
});

test('every option has a SOCKVISOR_ variable; unknown ones are named', () => {
  const env = Object.fromEntries(RUN_OPTIONS.map((o) => [`SOCKVISOR_${o.name.toUpperCase().replace(/-/g, '_')}`, 'x']));
  assert.deepEqual(unknownEnvironmentOptions({ ...env, SOCKVISOR_CONFIG: 'a.toml', SOCKVISOR_CHMOD_SOCKET: '0660', PATH: '/bin' }), []);
  assert.deepEqual(unknownEnvironmentOptions({ SOCKVISOR_SOKET: '/x', SOCKVISOR_SOCKET: '/y' }), ['SOCKVISOR_SOKET']);
});
