// nginx's configuration as nginx -T prints it: files, directives with their lines, unix upstreams.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorLogFiles, findUnixUpstreams, parseNginxConfig, parseNginxDump, passTarget, userDirective } from '../../src/nginx/config.js';
import { nginxQuote, nginxSnippet } from '../../src/nginx/snippet.js';

const DUMP = `# configuration file /etc/nginx/nginx.conf:
user  www-data  web;   # workers
error_log logs/error.log warn;
http {
    include /etc/nginx/conf.d/*.conf;
    map $http_upgrade $c { default "a;b{"; }
    server {
        location / {
            uwsgi_pass
                backend;
        }
        location /direct { uwsgi_pass unix:/run/direct.sock; }
        location /h { proxy_pass http://unix:/run/http.sock:/api/; }
        location /f { fastcgi_pass unix:/run/php/php-fpm.sock; }
        location /v { uwsgi_pass unix:/run/$host.sock; }
        location /t { proxy_pass http://127.0.0.1:8000; error_log /var/log/nginx/t.log; }
    }
}

# configuration file /etc/nginx/conf.d/up.conf:
upstream backend {
    server unix:/run/app/a.sock weight=2;
    server 'unix:/run/app/b c.sock';
}

`;

test('nginx -T output splits into files, and every directive keeps its own file and line', () => {
  const files = parseNginxDump(DUMP);
  assert.deepEqual(
    files.map((f) => f.path),
    ['/etc/nginx/nginx.conf', '/etc/nginx/conf.d/up.conf'],
  );
  assert.deepEqual(userDirective(files), { user: 'www-data', group: 'web', place: { file: '/etc/nginx/nginx.conf', line: 1 } });
  assert.deepEqual(
    errorLogFiles(files).map((l) => [l.path, l.place.line]),
    [
      ['logs/error.log', 2],
      ['/var/log/nginx/t.log', 15],
    ],
  );
  const map = files[0]!.directives[2]!.block![1]!;
  assert.deepEqual([map.name, map.block![0]!.args], ['map', ['a;b{']], 'quotes keep ; and { inside a value');
});

test('unix sockets are found in *_pass directives and upstream servers, with who uses each upstream', () => {
  const { upstreams, unresolved } = findUnixUpstreams(parseNginxDump(DUMP));
  assert.deepEqual(
    upstreams.map((u) => [u.path, u.directive, u.place.file.split('/').pop(), u.place.line, u.upstream ?? null]),
    [
      ['/run/direct.sock', 'uwsgi_pass', 'nginx.conf', 11, null],
      ['/run/http.sock', 'proxy_pass', 'nginx.conf', 12, null],
      ['/run/php/php-fpm.sock', 'fastcgi_pass', 'nginx.conf', 13, null],
      ['/run/app/a.sock', 'server', 'up.conf', 2, 'backend'],
      ['/run/app/b c.sock', 'server', 'up.conf', 3, 'backend'],
    ],
  );
  assert.deepEqual(
    upstreams[3]!.usedBy,
    [{ file: '/etc/nginx/nginx.conf', line: 8, directive: 'uwsgi_pass' }],
    'the directive starts on its first line',
  );
  assert.deepEqual(
    unresolved.map((u) => [u.value, u.line]),
    [['unix:/run/$host.sock', 14]],
  );
});

test('pass targets: schemes, the proxy_pass URI after the path, upstream names, variables', () => {
  assert.deepEqual(passTarget('uwsgi_pass', 'suwsgi://unix:/run/a.sock'), { unix: '/run/a.sock' });
  assert.deepEqual(passTarget('grpc_pass', 'grpc://unix:/run/g.sock'), { unix: '/run/g.sock' });
  assert.deepEqual(passTarget('proxy_pass', 'http://unix:/run/a.sock:'), { unix: '/run/a.sock' });
  assert.deepEqual(passTarget('proxy_pass', 'http://app_servers/x'), { name: 'app_servers' });
  assert.deepEqual(passTarget('scgi_pass', '${up}'), { variable: true });
  assert.deepEqual(parseNginxConfig('a ${b}c;', 'x')[0]!.args, ['${b}c']);
});

test('nginx-snippet: the location block, quoted where nginx would split the path', () => {
  assert.equal(
    nginxSnippet({ path: '/run/app/app.sock', location: '/', protocol: 'uwsgi', params: 'uwsgi_params' }),
    'location / {\n    include uwsgi_params;\n    uwsgi_pass unix:/run/app/app.sock;\n}\n',
  );
  assert.match(
    nginxSnippet({ path: '/run/a b.sock', location: '/api/', protocol: 'http', params: 'x' }),
    /^location \/api\/ \{\n {4}proxy_pass "http:\/\/unix:\/run\/a b.sock:";\n/,
  );
  // What the snippet writes, nginx's tokenizer (ours) reads back as the same path.
  const text = nginxSnippet({ path: '/run/we"ird;x.sock', location: '/', protocol: 'uwsgi', params: 'uwsgi_params' });
  assert.deepEqual(
    findUnixUpstreams([{ path: 's', directives: parseNginxConfig(text, 's') }]).upstreams.map((u) => u.path),
    ['/run/we"ird;x.sock'],
  );
  assert.equal(nginxQuote('plain'), 'plain');
});
