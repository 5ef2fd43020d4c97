// One HTTP request at a time, no keep-alive: each call is a new connection through nginx.
import { request } from 'node:http';

export interface HttpResult {
  status: number;
  body: string;
}

/** GET http://127.0.0.1:port/path; rejects only on network errors or after timeoutMs. */
export function httpGet(port: number, path = '/', timeoutMs = 15000): Promise<HttpResult> {
  return get({ host: '127.0.0.1', port }, path, timeoutMs, `port ${port}`);
}

/** GET /path over a unix socket, speaking HTTP to the server directly (no nginx). */
export function httpGetUnix(socketPath: string, path = '/', timeoutMs = 15000): Promise<HttpResult> {
  return get({ socketPath }, path, timeoutMs, socketPath);
}

function get(
  target: { host: string; port: number } | { socketPath: string },
  path: string,
  timeoutMs: number,
  where: string,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${where} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface TimedResult {
  /** ms since the load began */
  at: number;
  latencyMs: number;
  /** 0 for a network error */
  status: number;
  body: string;
}

/** Requests one after another (each a new connection) until stop() resolves; every result is kept. */
export function loadLoop(port: number): { results: TimedResult[]; stop: () => Promise<TimedResult[]> } {
  const results: TimedResult[] = [];
  const t0 = performance.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      let status = 0;
      let body = '';
      try {
        ({ status, body } = await httpGet(port, '/', 5000));
      } catch (error) {
        body = (error as Error).message;
      }
      results.push({ at: start - t0, latencyMs: performance.now() - start, status, body });
    }
  })();
  return {
    results,
    stop: async () => {
      running = false;
      await loop;
      return results;
    },
  };
}
