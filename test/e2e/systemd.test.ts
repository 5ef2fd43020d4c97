// sockvisor under systemd's notify protocol, checked with a receiving datagram socket made here
// (the addon's receiver: it reports the sender's pid as the kernel saw it, as systemd checks it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { openNotifyReceiver, type NotifyDatagram } from '../../src/native.js';
import { notifierCommand, setNotifierMode } from '../helpers/notifier.js';
import { environOf } from '../helpers/proc.js';
import { assertNothingLeft, childPid, cliPath, runCli, startSockvisor, stopAllSockvisors } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-systemd-');
});
afterEach(async () => {
  await stopAllSockvisors();
  await assertNothingLeft();
});
after(cleanupTempDirs);

interface Received extends NotifyDatagram {
  /** performance.now() at receipt */
  at: number;
}

test('Type=notify: READY=1 when the child is ready, STATUS lines, RELOADING=1 around a handover, STOPPING=1, watchdog only while ready', async () => {
  const address = `@sockvisor-test/systemd/${randomBytes(6).toString('hex')}`;
  const got: Received[] = [];
  const receiver = openNotifyReceiver(address, (d) => got.push({ ...d, at: performance.now() }));
  try {
    const control = join(dir, 'mode');
    setNotifierMode(control, 'slow:0.3');
    const sv = startSockvisor(['-s', join(dir, 'app.sock'), '--ready-after', '30', '--', ...notifierCommand(control)], {
      env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '200000' },
    });
    const until = async (what: string, predicate: (d: Received) => boolean, from = 0): Promise<number> => {
      const end = Date.now() + 15000;
      for (;;) {
        const i = got.findIndex((d, k) => k >= from && predicate(d));
        if (i >= 0) return i;
        if (Date.now() > end) throw new Error(`no ${what}; got:\n${got.map((d) => JSON.stringify(d.text)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const first = await childPid(sv);
    const ready = await until('READY=1', (d) => d.text.includes('READY=1'));
    assert.ok(
      got.slice(0, ready).every((d) => !d.text.includes('WATCHDOG=1')),
      'the watchdog was answered before the child was ready',
    );
    assert.match(got[ready]!.text, new RegExp(`^READY=1\nSTATUS=ready: pid ${first}, generation 1, 0 restarts; child: serving$`));
    assert.ok(
      got.every((d) => d.pid === sv.pid),
      'a message did not come from sockvisor itself (NotifyAccess=main)',
    );
    // The child has a NOTIFY_SOCKET of its own and no watchdog: sockvisor's belong to sockvisor.
    const env = environOf(first);
    assert.match(env.NOTIFY_SOCKET!, /^@sockvisor\//);
    assert.equal(env.WATCHDOG_USEC, undefined);
    await until('two WATCHDOG=1', (d) => d.text === 'WATCHDOG=1', (await until('WATCHDOG=1', (d) => d.text === 'WATCHDOG=1', ready)) + 1);

    // A crash: no watchdog until the restarted child is ready (0.3 s later), and the restart is counted.
    setNotifierMode(control, 'slow:0.6');
    const killedAt = performance.now();
    process.kill(first, 'SIGKILL');
    const second = await childPid(sv, first);
    const readyAgain = await until(
      'READY=1 after the restart',
      (d) => d.text.startsWith('READY=1') && d.text.includes(`pid ${second},`),
      ready + 1,
    );
    assert.match(got[readyAgain]!.text, /generation 2, 1 restart;/);
    const readyAt = got[readyAgain]!.at;
    const pingsWhileDown = got.filter((d) => d.text === 'WATCHDOG=1' && d.at > killedAt + 50 && d.at < readyAt);
    assert.deepEqual(
      pingsWhileDown.map((d) => d.text),
      [],
      'the watchdog was answered while no child was ready',
    );

    // A handover: RELOADING=1 with the monotonic clock, then READY=1 from the new child.
    setNotifierMode(control, 'slow:0.3');
    const before = process.hrtime.bigint() / 1000n;
    process.kill(sv.pid, 'SIGHUP');
    const reloading = await until('RELOADING=1', (d) => d.text.startsWith('RELOADING=1'), readyAgain + 1);
    const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(got[reloading]!.text)![1]!);
    assert.ok(usec >= before && usec < before + 10_000_000n, `MONOTONIC_USEC ${usec} is not CLOCK_MONOTONIC now (${before})`);
    const third = await childPid(sv, second);
    await until('READY=1 after the handover', (d) => d.text.startsWith('READY=1') && d.text.includes(`pid ${third},`), reloading + 1);

    await sv.stop('SIGTERM');
    await until('STOPPING=1', (d) => d.text.startsWith('STOPPING=1'));
  } finally {
    receiver.close();
  }
});

test("systemd-unit's ExecStart runs the bin entry, which checks the open-file limit before loading sockvisor", async () => {
  const { code, stdout, stderr } = await runCli(['systemd-unit', '-s', join(dir, 'unit.sock'), '--', 'sleep', '9']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`^ExecStart=${process.execPath} ${cliPath.replace(/[.]/g, '\\.')} \\\\$`, 'm'));
  assert.ok(cliPath.endsWith('/dist/src/cli/sockvisor.js'));
});
