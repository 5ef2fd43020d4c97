// Reading uWSGI's configuration: each case is also read by the real uWSGI (`uwsgi --get`), so the
// test fails if sockvisor's reading and uWSGI's own ever differ.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { confirmWithUwsgi, readUwsgiConfig, uwsgiTcpName } from '../../src/uwsgi/config.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';
import { UWSGI } from '../helpers/uwsgi.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-ini-');
});
after(cleanupTempDirs);

const env = { PATH: process.env.PATH, HOME: '/home/someone' };
// Shipped by the Debian package uwsgi; whether it is there decides the skip, never whether it parses.
const DEBIAN_DEFAULT = '/usr/share/uwsgi/conf/default.ini';

/** What uWSGI itself reads for the first value of each key, run from `cwd` with `env`. */
function uwsgiGet(args: string[], keys: string[], cwd = dir, extraEnv: NodeJS.ProcessEnv = {}): string[] {
  const out = execFileSync(UWSGI, [...args, ...keys.flatMap((k) => ['--get', k])], {
    cwd,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.split('\n').slice(0, -1);
}

function ini(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The first value sockvisor reads for each key. */
function firsts(args: string[], keys: string[], cwd = dir, extraEnv: NodeJS.ProcessEnv = {}): string[] {
  const config = readUwsgiConfig(args, { cwd, env: { ...env, ...extraEnv } });
  return keys.map((k) => config.options.find((o) => o.key === k)?.value ?? '(none)');
}

test('magic variables, sections, comments, spaces and repeated keys are read as uWSGI reads them', () => {
  mkdirSync(join(dir, 'etc'));
  ini(
    'etc/site.ini',
    [
      '[other]',
      'socket = /wrong',
      '[uwsgi]',
      '  socket   =   /run/%n/%c/app.sock  ',
      '; socket = /commented',
      '# socket = /commented-too',
      'http-socket = %d%s.%e|%x|%0|%1|100%%',
      'socket = /run/second.sock',
      '[prod]',
      'socket = /run/prod/%x.sock',
    ].join('\n'),
  );
  const keys = ['socket', 'http-socket'];
  for (const args of [
    ['--ini', 'etc/site.ini'],
    ['--ini', join(dir, 'etc/site.ini')],
    ['--ini', 'etc/site.ini:prod'],
  ]) {
    assert.deepEqual(firsts(args, keys).slice(0, args[1]!.endsWith(':prod') ? 1 : 2), uwsgiGet(args, keys), args.join(' '));
  }
  const config = readUwsgiConfig(['--ini', 'etc/site.ini'], { cwd: dir, env });
  assert.deepEqual(
    config.sockets.map((s) => s.option.value),
    ['/run/site/etc/app.sock', `${dir}/etc/site.ini.ini||${dir.split('/')[1]}|${dir.split('/')[2]}|100%`, '/run/second.sock'],
  );
});

test('%(option), $(ENV) and @(file) are resolved over the whole configuration, as uWSGI does', () => {
  writeFileSync(join(dir, 'name.txt'), 'fromfile\n');
  ini('refs.ini', '[uwsgi]\nbase = /run/%(app)\nsocket = %(base)/$(APP_KIND)-@(name.txt).sock\napp = later\n');
  const args = ['--ini', 'refs.ini'];
  const extra = { APP_KIND: 'web' };
  assert.deepEqual(firsts(args, ['socket'], dir, extra), uwsgiGet(args, ['socket'], dir, extra));
  assert.deepEqual(firsts(args, ['socket'], dir, extra), ['/run/later/web-fromfile.sock']);
});

test('ini = inside an ini reads that file in place, :section reads another section of the last file', () => {
  ini('base.ini', '[uwsgi]\nsocket = /run/base.sock\nini = :extra\n[extra]\nhttp-socket = /run/extra.sock\n');
  ini('top.ini', '[uwsgi]\nini = base.ini\nchmod-socket = 640\n');
  const args = ['--ini', 'top.ini'];
  assert.deepEqual(firsts(args, ['socket', 'http-socket', 'chmod-socket']), uwsgiGet(args, ['socket', 'http-socket', 'chmod-socket']));
  const config = readUwsgiConfig(args, { cwd: dir, env });
  assert.equal(config.chmod, '640');
  assert.deepEqual(config.files, [join(dir, 'top.ini'), join(dir, 'base.ini')]);
});

test('a symlinked ini keeps its own name in %n and %d (the Debian apps-enabled layout)', () => {
  mkdirSync(join(dir, 'apps-available'));
  mkdirSync(join(dir, 'apps-enabled'));
  ini('apps-available/shop.ini', '[uwsgi]\nsocket = /run/uwsgi/%n.sock\nhttp-socket = %dhealth.sock\n');
  symlinkSync(join(dir, 'apps-available/shop.ini'), join(dir, 'apps-enabled/shop.ini'));
  const args = ['--ini', join(dir, 'apps-enabled/shop.ini')];
  assert.deepEqual(firsts(args, ['socket', 'http-socket']), uwsgiGet(args, ['socket', 'http-socket']));
});

const noDebianDefault = !existsSync(DEBIAN_DEFAULT) && `Debian package uwsgi not installed (no ${DEBIAN_DEFAULT})`;
test("Debian's default.ini with UWSGI_DEB_* from the environment gives /run/uwsgi/app/NAME/socket", { skip: noDebianDefault }, () => {
  ini('svapp.ini', '[uwsgi]\nplugins = python3\n');
  const args = ['--ini', DEBIAN_DEFAULT, '--ini', 'svapp.ini'];
  const extra = { UWSGI_DEB_CONFNAMESPACE: 'app', UWSGI_DEB_CONFNAME: 'svapp' };
  const config = readUwsgiConfig(args, { cwd: dir, env: { ...env, ...extra } });
  assert.deepEqual(
    config.sockets.map((s) => s.option.value),
    ['/run/uwsgi/app/svapp/socket'],
  );
  assert.deepEqual(
    { chmod: config.chmod, chown: config.chown, uid: config.uid, gid: config.gid },
    { chmod: '660', chown: 'www-data', uid: 'www-data', gid: 'www-data' },
  );
  assert.deepEqual(firsts(args, ['socket', 'chown-socket'], dir, extra), uwsgiGet(args, ['socket', 'chown-socket'], dir, extra));
  confirmWithUwsgi(UWSGI, 'uwsgi', args, config, { cwd: dir, env: { ...env, ...extra } });
});

test('the environment, the command line and the ini are read in uWSGI order; the last chmod/chown/uid/gid wins', () => {
  ini('order.ini', '[uwsgi]\nsocket = /run/ini.sock\nchmod-socket = 600\nuid = ini-user\n');
  const args = ['-s', '/run/cli.sock', '--ini', 'order.ini', '--chmod-socket=640', '--set', 'http-socket=/run/set.sock'];
  const extra = { UWSGI_SOCKET: '/run/env.sock' };
  const config = readUwsgiConfig(args, { cwd: dir, env: { ...env, ...extra } });
  assert.deepEqual(
    config.sockets.map((s) => s.option.value),
    ['/run/env.sock', '/run/cli.sock', '/run/ini.sock', '/run/set.sock'],
  );
  assert.equal(config.chmod, '640');
  assert.equal(config.uid, 'ini-user');
  assert.deepEqual(firsts(args, ['socket', 'http-socket'], dir, extra), uwsgiGet(args, ['socket', 'http-socket'], dir, extra));
});

test('a bare --chmod-socket beside an ini is read as uWSGI reads it (0666), and uWSGI agrees', () => {
  ini('bare.ini', '[uwsgi]\nsocket = /run/bare.sock\n');
  const args = ['--ini', 'bare.ini', '--chmod-socket'];
  const config = readUwsgiConfig(args, { cwd: dir, env });
  assert.equal(config.chmod, true);
  confirmWithUwsgi(UWSGI, 'uwsgi', args, config, { cwd: dir, env });
});

test('what sockvisor cannot adopt from a file is refused with the fix: relative, unnormalized, computed, conditional, odd TCP forms', () => {
  const refuse = (text: string, pattern: RegExp): void => {
    ini('bad.ini', `[uwsgi]\n${text}\n`);
    assert.throws(() => readUwsgiConfig(['--ini', 'bad.ini'], { cwd: dir, env }), pattern, text);
  };
  refuse('socket = app.sock', /relative path.*write the absolute path, e\.g\. socket = .*\/app\.sock/);
  refuse('socket = /run//app.sock', /write socket = \/run\/app\.sock/);
  refuse('socket = /run/%k.sock', /uses %k, which sockvisor cannot resolve/);
  refuse('socket = /run/$(NO_SUCH_VARIABLE).sock', /uses \$\(NO_SUCH_VARIABLE\)/);
  refuse('if-env = FOO\nsocket = /run/app.sock\nendif =', /inside an if-\/for block/);
  refuse('http-socket = 0.0.0.0:9090', /write http-socket = :9090/);
  refuse('http-socket = [0::1]:9090', /write http-socket = \[::1\]:9090/);
});

test('other config formats and daemonize are refused with a sentence, wherever they appear', () => {
  assert.throws(
    () => readUwsgiConfig(['--xml', 'app.xml'], { cwd: dir, env }),
    /uWSGI's --xml app.xml configuration .* is not read by sockvisor.*write the configuration as an ini file/,
  );
  assert.throws(() => readUwsgiConfig(['-y', 'app.yaml'], { cwd: dir, env }), /yaml configuration/);
  assert.throws(() => readUwsgiConfig(['app.json'], { cwd: dir, env }), /app\.json/);
  ini('daemon.ini', '[uwsgi]\nsocket = /run/app.sock\ndaemonize = /var/log/app.log\n');
  assert.throws(
    () => readUwsgiConfig(['--ini', 'daemon.ini'], { cwd: dir, env }),
    /daemonize \(.*daemon\.ini line 3\) makes uWSGI leave sockvisor/,
  );
  assert.throws(() => readUwsgiConfig(['-d', '/var/log/x'], { cwd: dir, env }), /daemonize/);
});

test('keys written with underscores are ignored by uWSGI 2.0, and sockvisor says so', () => {
  ini('underscore.ini', '[uwsgi]\nhttp_socket = /run/app.sock\n');
  const config = readUwsgiConfig(['--ini', 'underscore.ini'], { cwd: dir, env });
  assert.deepEqual(config.sockets, []);
  assert.match(config.warnings[0]!, /ignores 'http_socket'.*write http-socket/);
  assert.deepEqual(uwsgiGet(['--ini', 'underscore.ini'], ['http-socket']), []);
});

test("uWSGI's own names of TCP addresses", () => {
  assert.equal(uwsgiTcpName({ family: 4, address: '0.0.0.0', port: 80 }), ':80');
  assert.equal(uwsgiTcpName({ family: 4, address: '127.0.0.1', port: 80 }), '127.0.0.1:80');
  assert.equal(uwsgiTcpName({ family: 6, address: '0:0::1', port: 80 }), '[::1]:80');
});

test('a difference between what sockvisor read and what uWSGI reads is refused', () => {
  ini('hidden.ini', '[uwsgi]\nsocket = /run/a.sock\n');
  const config = readUwsgiConfig(['--ini', 'hidden.ini'], { cwd: dir, env });
  // uWSGI is given one more socket than sockvisor read (as if from a source sockvisor missed).
  assert.throws(
    () => confirmWithUwsgi(UWSGI, 'uwsgi', ['--ini', 'hidden.ini', '--http-socket', '/run/b.sock'], config, { cwd: dir, env }),
    /names '\/run\/b\.sock' in a way sockvisor could not read/,
  );
  config.options[1]!.value = '/run/other.sock';
  assert.throws(
    () => confirmWithUwsgi(UWSGI, 'uwsgi', ['--ini', 'hidden.ini'], config, { cwd: dir, env }),
    /sockvisor read socket = \/run\/other\.sock .* uWSGI itself reads socket = \/run\/a\.sock/,
  );
});

test('a socket line whose bytes are not UTF-8 is refused (its path would be read with U+FFFD); a Latin-1 comment is harmless', () => {
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
  const bad = join(dir, 'latin1-socket.ini');
  writeFileSync(bad, latin1(`[uwsgi]\nsocket = ${dir}/caf\xe9.sock\n`));
  const refusal = /socket \(.*latin1-socket\.ini line 2\) is not valid UTF-8, so sockvisor cannot read the path/;
  assert.throws(() => readUwsgiConfig(['--ini', bad], { cwd: dir, env }), refusal);
  const fine = join(dir, 'latin1-comment.ini');
  writeFileSync(fine, latin1(`[uwsgi]\n# caf\xe9\nsocket = ${dir}/cafe.sock\n`));
  assert.deepEqual(firsts(['--ini', fine], ['socket']), [`${dir}/cafe.sock`]);
  assert.deepEqual(uwsgiGet(['--ini', fine], ['socket']), [`${dir}/cafe.sock`]);
});
