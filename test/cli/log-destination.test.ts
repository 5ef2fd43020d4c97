// The non-blocking log destination on a real pipe whose reader is stuck, then back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { NonBlockingDestination } from '../../src/cli/log-destination.js';
import { closeAllPipes, StuckPipe } from '../helpers/pipe.js';
import { waitUntil } from '../helpers/proc.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('sockvisor-logdest-');
});
afterEach(closeAllPipes);
after(cleanupTempDirs);

/** Reads the pipe until `until` holds, collecting the lines that are not the filler's empty ones. */
async function readLines(pipe: StuckPipe, lines: string[], until: () => boolean): Promise<boolean> {
  return waitUntil(() => {
    lines.push(...pipe.drain().split('\n').filter(Boolean));
    return until();
  }, 5000);
}

test('writes never block on a full pipe; every line arrives in order once the reader is back, and flush waits for it', async () => {
  const pipe = new StuckPipe(join(dir, 'order'));
  pipe.fill();
  const destination = new NonBlockingDestination(pipe.holder);
  const started = performance.now();
  for (let i = 0; i < 1000; i++) destination.write(`line ${i}\n`);
  assert.ok(performance.now() - started < 500, 'writing to a full pipe blocked');
  assert.equal(await destination.flush(100), false, 'flush claimed success while nobody read');
  const lines: string[] = [];
  const flushed = destination.flush(5000);
  assert.ok(await readLines(pipe, lines, () => lines.length >= 1000), `only ${lines.length} lines arrived`);
  assert.equal(await flushed, true);
  assert.deepEqual(
    lines,
    Array.from({ length: 1000 }, (_, i) => `line ${i}`),
  );
});

test('past its bound it drops new lines, counts them, and reports the count once writing resumes', async () => {
  const pipe = new StuckPipe(join(dir, 'drop'));
  pipe.fill();
  const destination = new NonBlockingDestination(pipe.holder);
  let reported = 0;
  destination.onDropped = (count) => {
    reported += count;
    destination.write(`dropped ${count}\n`);
  };
  const line = `${'x'.repeat(1023)}\n`;
  for (let i = 0; i < 6 * 1024; i++) destination.write(line); // 6 MiB: more than the 4 MiB bound
  const lines: string[] = [];
  assert.ok(await readLines(pipe, lines, () => lines.some((l) => l.startsWith('dropped'))), 'no drop was reported');
  assert.ok(reported >= 1024 && reported < 6 * 1024, `reported ${reported} dropped lines`);
  assert.equal(lines.filter((l) => l === line.trim()).length + reported, 6 * 1024, 'lines were lost without being counted');
});
