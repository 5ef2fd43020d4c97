// One HTTP request at a time, no keep-alive: each call is a new connection through nginx.
import { request } from 'node:http';

export interface HttpResult {
  status: number;
  body: string;
}

/** GET http://127.0.0.1:port/path; rejects only on network errors or after timeoutMs. */
export function httpGet(port: number, path = '/', timeoutMs = 15000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on port ${port} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET over a unix socket speaking HTTP (uWSGI --http-socket); rejects on errors or after timeoutMs. */
export function httpGetUnix(socketPath: string, path = '/', timeoutMs = 15000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${socketPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
