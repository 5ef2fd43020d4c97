// Requests through nginx from a worker thread, so that they go on while the test's own thread is
// busy (spinning on lstat to time a gap of a few microseconds). Start and end of each request are on
// the monotonic clock both threads share (process.hrtime), as ns since the load began.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { httpGet } from './http.js';

export interface LoadRecord {
  /** ns since base */
  start: number;
  end: number;
  /** 0 for a network error */
  status: number;
  body: string;
}

export interface LoadThread {
  /** ns since the load began, on the clock of the records */
  now(): number;
  stop(): Promise<LoadRecord[]>;
}

interface LoadData {
  kind: 'sockvisor-load';
  port: number;
  connections: number;
  base: bigint;
}

/** `connections` loops, each sending one request after another (a new connection each) to 127.0.0.1:port. */
export function startLoadThread(port: number, connections = 4): LoadThread {
  const base = process.hrtime.bigint();
  const data: LoadData = { kind: 'sockvisor-load', port, connections, base };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const results = new Promise<LoadRecord[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    now: () => Number(process.hrtime.bigint() - base),
    stop: async () => {
      worker.postMessage('stop');
      const records = await results;
      await worker.terminate();
      return records;
    },
  };
}

async function runLoad(data: LoadData): Promise<void> {
  const records: LoadRecord[] = [];
  let running = true;
  parentPort!.once('message', () => (running = false));
  const since = (): number => Number(process.hrtime.bigint() - data.base);
  const loop = async (): Promise<void> => {
    while (running) {
      const start = since();
      // A network error or a timeout is a result too: status 0, the error as body.
      const { status, body } = await httpGet(data.port, '/', 5000).catch((error: Error) => ({ status: 0, body: error.message }));
      records.push({ start, end: since(), status, body });
    }
  };
  await Promise.all(Array.from({ length: data.connections }, loop));
  parentPort!.postMessage(records.sort((a, b) => a.start - b.start));
}

// This file is also loaded by `node --test` as a module of test/: only a worker started above runs the load.
if (!isMainThread && (workerData as LoadData | null)?.kind === 'sockvisor-load') void runLoad(workerData as LoadData);
