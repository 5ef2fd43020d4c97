// Logs never block supervision and never get lost: sockvisor's stderr is a pipe nobody reads (a
// stuck log collector, a pager left open), and supervision goes on; what was logged meanwhile
// arrives once the reader is back, and the last records wait for a slow reader before exit.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { childrenOf, commOf, waitGone, waitUntil } from '../helpers/proc.js';
import { assertNothingLeft, startSockvisor, stopAllSockvisors, type SockvisorProcess } from '../helpers/sockvisor.js';
import { closeAllPipes, drainAllPipes, StuckPipe } from '../helpers/pipe.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-logs-');
});
afterEach(async () => {
  // Whatever is still stuck drains now, so that a stop can log and end.
  const draining = setInterval(drainAllPipes, 20);
  await stopAllSockvisors();
  clearInterval(draining);
  closeAllPipes();
  await assertNothingLeft();
});
after(cleanupTempDirs);

/** The `sleep` children of sockvisor (not sockvisor-guard). */
function sleepChildren(sv: SockvisorProcess): number[] {
  return childrenOf(sv.pid).filter((pid) => commOf(pid) === 'sleep');
}

/** Reads the pipe into sv's records until predicate holds (or timeoutMs). */
async function readUntil(sv: SockvisorProcess, pipe: StuckPipe, predicate: () => boolean, timeoutMs = 5000): Promise<boolean> {
  return waitUntil(() => {
    sv.addLog(pipe.drain());
    return predicate();
  }, timeoutMs);
}

test('with stderr a pipe nobody reads, a killed child is still restarted at once; the records logged meanwhile arrive when the reader is back', async () => {
  const pipe = new StuckPipe(join(dir, 'stuck-1'));
  const sv = startSockvisor(['-s', join(dir, 'stuck-1.sock'), '--', 'sleep', '1000'], { stderrFd: pipe.holder });
  let first = 0;
  assert.ok(await waitUntil(() => (first = sleepChildren(sv)[0] ?? 0) > 0, 10000), 'no child started');
  assert.ok(pipe.fill() > 0);
  process.kill(first, 'SIGKILL');
  let second = 0;
  const restarted = await waitUntil(() => (second = sleepChildren(sv).find((pid) => pid !== first) ?? 0) > 0, 3000);
  assert.ok(restarted, 'sockvisor did not restart the child while its stderr was full: logging blocked supervision');
  assert.ok(
    await readUntil(sv, pipe, () => sv.records.some((r) => r.event === 'child.started' && r.pid === second)),
    `the records logged while stderr was full did not arrive; got: ${sv.records.map((r) => r.event).join(', ')}`,
  );
  assert.ok(sv.records.some((r) => r.event === 'child.exited' && r.pid === first && r.signal === 'SIGKILL'));
});

test('the last records wait for a slow reader before sockvisor exits, and a reader that never returns does not keep it from exiting', async () => {
  const slow = new StuckPipe(join(dir, 'stuck-2'));
  const sv = startSockvisor(['-s', join(dir, 'stuck-2.sock'), '--', 'sleep', '1000'], { stderrFd: slow.holder });
  assert.ok(await waitUntil(() => sleepChildren(sv).length > 0, 10000), 'no child started');
  slow.fill();
  process.kill(sv.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 500)); // the reader is slow, not gone
  assert.ok(await readUntil(sv, slow, () => sv.proc.exitCode !== null), 'sockvisor did not exit once its stderr was read');
  sv.addLog(slow.drain());
  const exit = sv.records.find((r) => r.event === 'supervisor.exit');
  assert.ok(exit, `the last record was lost; got: ${sv.records.map((r) => r.event).join(', ')}`);
  assert.equal(exit.status, 0);
  assert.ok(sv.records.some((r) => r.event === 'socket.removed'));

  const gone = new StuckPipe(join(dir, 'stuck-3'));
  const sv2 = startSockvisor(['-s', join(dir, 'stuck-3.sock'), '--', 'sleep', '1000'], { stderrFd: gone.holder });
  let child = 0;
  assert.ok(await waitUntil(() => (child = sleepChildren(sv2)[0] ?? 0) > 0, 10000), 'no child started');
  gone.fill();
  const started = Date.now();
  process.kill(sv2.pid, 'SIGTERM');
  const exited = await waitUntil(() => sv2.proc.exitCode !== null, 6000);
  assert.ok(exited, `sockvisor was still waiting for a reader that never came after ${Date.now() - started} ms`);
  assert.equal(sv2.proc.exitCode, 0);
  assert.ok(await waitGone(child, 2000), `child ${child} outlived sockvisor`);
});
