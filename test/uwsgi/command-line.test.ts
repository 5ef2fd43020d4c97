import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readUwsgiConfig } from '../../src/uwsgi/config.js';
import { classifyUwsgiSocket, isUwsgi, readUwsgiArgs, rewriteUwsgiArgs, usesUwsgiMaster } from '../../src/uwsgi/command-line.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

after(cleanupTempDirs);

const held = [{ path: '/run/app/app.sock', fd: 3 }];

test('uWSGI is recognised by the file name of COMMAND', () => {
  assert.ok(isUwsgi('uwsgi'));
  assert.ok(isUwsgi('/usr/bin/uwsgi-core'));
  assert.ok(isUwsgi('uwsgi_python3'));
  assert.ok(!isUwsgi('gunicorn'));
  assert.ok(!isUwsgi('/opt/uwsgi/bin/python'));
});

test("the seed's command line: socket path, chmod, uid and gid are read", () => {
  const args = ['--plugin', 'python3', '-s', '/run/app/app.sock', '--chmod-socket=020', '--uid', 'ubuntu', '--gid', 'www-data'];
  const read = readUwsgiArgs(args);
  assert.deepEqual(
    read.sockets.map((s) => [s.option, s.value]),
    [['-s', '/run/app/app.sock']],
  );
  assert.equal(read.chmod, '020');
  assert.equal(read.uid, 'ubuntu');
  assert.equal(read.gid, 'www-data');
});

test('--chmod-socket takes only an attached value, as uWSGI (optional argument) does', () => {
  assert.equal(readUwsgiArgs(['--chmod-socket', '-s', 'x']).chmod, true);
  assert.equal(readUwsgiArgs(['-C020']).chmod, '020');
  assert.equal(readUwsgiArgs(['--chmod=660']).chmod, '660');
  assert.equal(readUwsgiArgs(['--chown-socket=app:www-data']).chown, 'app:www-data');
});

test('each spelling of a socket option naming the held path becomes fd://3, keeping the option', () => {
  const cases: [string[], string[]][] = [
    [
      ['-s', '/run/app/app.sock'],
      ['-s', 'fd://3'],
    ],
    [
      ['--socket', '/run/app/app.sock'],
      ['--socket', 'fd://3'],
    ],
    [['--socket=/run/app/app.sock'], ['--socket=fd://3']],
    [['-s/run/app/app.sock'], ['-sfd://3']],
    [
      ['--http-socket', '/run/app/app.sock'],
      ['--http-socket', 'fd://3'],
    ],
    [['--uwsgi-socket=/run/app/app.sock'], ['--uwsgi-socket=fd://3']],
    [
      ['--fastcgi-socket', '/run/app/app.sock'],
      ['--fastcgi-socket', 'fd://3'],
    ],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(rewriteUwsgiArgs(['--master', ...input], held, '/').args, ['--master', ...expected], input.join(' '));
  }
});

test('a relative socket path is matched against the held absolute path through the working folder', () => {
  assert.deepEqual(rewriteUwsgiArgs(['-s', 'app.sock'], held, '/run/app').args, ['-s', 'fd://3']);
});

test('with no socket option, --socket fd://N is put first; other sockets are reported unmatched', () => {
  assert.deepEqual(rewriteUwsgiArgs(['--master', '--wsgi-file', 'app.py'], held, '/').args, [
    '--socket',
    'fd://3',
    '--master',
    '--wsgi-file',
    'app.py',
  ]);
  const { args, unmatched } = rewriteUwsgiArgs(['-s', '/tmp/other.sock', '--http-socket', ':8000'], held, '/');
  assert.deepEqual(args, ['--socket', 'fd://3', '-s', '/tmp/other.sock', '--http-socket', ':8000']);
  assert.deepEqual(
    unmatched.map((u) => u.value),
    ['/tmp/other.sock', ':8000'],
  );
});

test('two held sockets: each named one is rewritten, in place', () => {
  const two = [...held, { path: '/run/app/health.sock', fd: 4 }];
  const { args } = rewriteUwsgiArgs(['--http-socket', '/run/app/health.sock', '-s', '/run/app/app.sock'], two, '/');
  assert.deepEqual(args, ['--http-socket', 'fd://4', '-s', 'fd://3']);
});

test('a held TCP socket is matched by address: :PORT is 0.0.0.0, and a host name is left to uWSGI', () => {
  const tcp = [
    { fd: 3, tcp: { family: 4 as const, address: '0.0.0.0', port: 9090 } },
    { fd: 4, tcp: { family: 6 as const, address: '::1', port: 9091 } },
  ];
  const { args, unmatched } = rewriteUwsgiArgs(
    ['--http-socket', ':9090', '--http-socket=[::1]:9091', '--socket', 'localhost:9092'],
    tcp,
    '/',
  );
  assert.deepEqual(args, ['--http-socket', 'fd://3', '--http-socket=fd://4', '--socket', 'localhost:9092']);
  assert.deepEqual(
    unmatched.map((u) => u.value),
    ['localhost:9092'],
  );
});

test("a held socket named in uWSGI's ini gets the ini's own option with fd://N, so the protocol is the ini's", () => {
  const { args } = rewriteUwsgiArgs(['--ini', 'app.ini'], [...held, { path: '/run/app/other.sock', fd: 4 }], '/', [
    { key: 'http-socket', fd: 3 },
  ]);
  assert.deepEqual(args, ['--http-socket', 'fd://3', '--socket', 'fd://4', '--ini', 'app.ini']);
});

test('values uWSGI binds in its own ways are not paths: fd://, @abstract, =shared, ssl options, port 0', () => {
  for (const value of ['fd://3', '@abstract', '=0', '/run/a.sock,cert.pem,key.pem', ':0']) {
    assert.equal(classifyUwsgiSocket(value, '/').kind, 'other', value);
  }
  assert.deepEqual(classifyUwsgiSocket('app.sock', '/srv'), { kind: 'unix', path: '/srv/app.sock' });
});

test('uWSGI master mode is read from --master, -M and master = true in an --ini file', async () => {
  const master = (args: string[], cwd = '/'): boolean => usesUwsgiMaster(args, readUwsgiConfig(args, { cwd, env: {} }));
  assert.ok(master(['--master']));
  assert.ok(master(['-M']));
  assert.ok(master(['--master=true']));
  assert.ok(!master(['--master=false']));
  assert.ok(!master(['--processes', '2']));
  const dir = await makeTempDir('sockvisor-ini-');
  writeFileSync(join(dir, 'on.ini'), '[other]\nmaster = false\n[uwsgi]\nmodule = app\nmaster = true\n');
  writeFileSync(join(dir, 'off.ini'), '[uwsgi]\nmodule = app\n');
  assert.ok(master(['--ini', 'on.ini'], dir));
  assert.ok(!master(['--ini', join(dir, 'off.ini')]));
  assert.ok(usesUwsgiMaster([], { options: [{ key: 'master', value: '1', origin: 'env' }] }), 'UWSGI_MASTER=1');
});
