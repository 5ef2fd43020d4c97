// sockvisor's own config file and SOCKVISOR_* variables, as a user combines them: the command line
// wins over the environment, which wins over the file, which wins over the defaults.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { environOf } from '../helpers/proc.js';
import { assertNothingLeft, childPid, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-config-e2e-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

test('--config FILE runs COMMAND from the file; the environment and the command line override it option by option', async () => {
  const file = join(dir, 'app.toml');
  writeFileSync(
    file,
    `# sockets and how to run the app
socket = ["web=${join(dir, 'web.sock')}", "admin=${join(dir, 'admin.sock')}"]
socket-mode = "0600"
stop-signal = "SIGINT"
stop-timeout = 3
command = ["sleep", "1000"]
`,
  );
  const fromFile = startSockvisor(['--config', file]);
  const pid = await childPid(fromFile);
  assert.equal(environOf(pid).LISTEN_FDNAMES, 'web:admin');
  assert.equal(statSync(join(dir, 'web.sock')).mode & 0o777, 0o600);
  const stopped = await fromFile.stop('SIGTERM');
  assert.equal(stopped.code, 0);
  assert.equal(fromFile.records.find((r) => r.event === 'child.stop-signal')?.signal, 'SIGINT');

  // SOCKVISOR_SOCKET_MODE beats the file; --socket-mode beats both; the command line's COMMAND and sockets replace the file's.
  const env = startSockvisor(['--config', file], { env: { SOCKVISOR_SOCKET_MODE: '0640' } });
  await childPid(env);
  assert.equal(statSync(join(dir, 'web.sock')).mode & 0o777, 0o640);
  await env.stop('SIGTERM');
  const cli = startSockvisor(['--config', file, '--socket-mode', '0620', '-s', join(dir, 'cli.sock'), '--', 'sleep', '999'], {
    env: { SOCKVISOR_SOCKET_MODE: '0640' },
  });
  const cliPid = await childPid(cli);
  assert.equal(statSync(join(dir, 'cli.sock')).mode & 0o777, 0o620);
  assert.deepEqual(cli.records.find((r) => r.event === 'child.started')?.argv, ['sleep', '999']);
  assert.equal(environOf(cliPid).LISTEN_FDNAMES, 'socket');
});
