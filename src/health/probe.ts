// One health probe: connect to a held socket afresh, send the smallest request its protocol
// takes, and count any answer (even a 500: the app answered) as alive. A hung child leaves the
// connection in the accept queue, or accepted and silent, until the timeout.
import { createConnection, type Socket } from 'node:net';
import { UsageError } from '../errors.js';

export const HEALTH_PROTOCOLS = ['uwsgi', 'http'] as const;
export type HealthProtocol = (typeof HEALTH_PROTOCOLS)[number];

/** What --health-check asks: the protocol the socket speaks and the path requested. */
export interface HealthRequest {
  protocol: HealthProtocol;
  /** absolute URI path, with an optional ?query */
  path: string;
}

/** Where the probe connects: a unix socket path, or a TCP address (a wildcard address as loopback). */
export type ProbeTarget = { path: string } | { host: string; port: number };

/**
 * ok: the child answered; false: it did not (no answer, connection closed, or refused for a full
 * queue); null: the probe could not ask it (the path gone while the healer puts it back, no
 * permission to connect): not the child's fault, not counted against it.
 */
export type ProbeResult = { ok: true; ms: number } | { ok: false; reason: string } | { ok: null; reason: string };

/** connect() errors that say something about the child: a full accept queue (EAGAIN), a reset. */
const CHILD_ERRORS = new Set(['EAGAIN', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);

/** Parses `uwsgi:/PATH` or `http:/PATH` (the value of --health-check). */
export function parseHealthCheck(value: string): HealthRequest {
  const colon = value.indexOf(':');
  const protocol = value.slice(0, colon);
  const path = value.slice(colon + 1);
  if (colon < 0 || !(HEALTH_PROTOCOLS as readonly string[]).includes(protocol) || !/^\/[\x21-\x7e]*$/.test(path)) {
    throw new UsageError(
      `--health-check '${value}' is not PROTOCOL:PATH: give uwsgi:/PATH for a uwsgi-protocol socket (uWSGI's --socket) ` +
        'or http:/PATH for an HTTP one (--http-socket), e.g. uwsgi:/health.',
    );
  }
  return { protocol: protocol as HealthProtocol, path };
}

/** uWSGI's packet: modifier1 (0: WSGI), datasize (little-endian u16), modifier2, then key/value pairs with le16 lengths. */
export function uwsgiPacket(vars: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(vars)) {
    for (const text of [key, value]) {
      const bytes = Buffer.from(text, 'utf8');
      const size = Buffer.alloc(2);
      size.writeUInt16LE(bytes.length);
      parts.push(size, bytes);
    }
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(4);
  header.writeUInt8(0, 0);
  header.writeUInt16LE(body.length, 1);
  header.writeUInt8(0, 3);
  return Buffer.concat([header, body]);
}

/** The bytes of one probe request: a GET of request.path, as nginx would pass it. */
export function probeBytes(request: HealthRequest): Buffer {
  if (request.protocol === 'http') {
    const head = [`GET ${request.path} HTTP/1.0`, 'Host: localhost', 'User-Agent: sockvisor-health-check', 'Connection: close'];
    return Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
  }
  const query = request.path.indexOf('?');
  return uwsgiPacket({
    REQUEST_METHOD: 'GET',
    REQUEST_URI: request.path,
    PATH_INFO: query < 0 ? request.path : request.path.slice(0, query),
    QUERY_STRING: query < 0 ? '' : request.path.slice(query + 1),
    SERVER_PROTOCOL: 'HTTP/1.0',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    HTTP_HOST: 'localhost',
    HTTP_USER_AGENT: 'sockvisor-health-check',
  });
}

/** Sends one probe to target; alive when the first byte of an answer comes within timeoutMs. */
export function probe(target: ProbeTarget, bytes: Buffer, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let socket: Socket | null = null;
    const finish = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket?.destroy();
      socket = null;
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    socket = createConnection(target);
    // No half-close: a server may take the end of input for a client gone away.
    socket.on('connect', () => socket?.write(bytes));
    socket.once('data', () => finish({ ok: true, ms: performance.now() - started }));
    socket.on('end', () => finish({ ok: false, reason: 'the connection was closed without an answer' }));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const reason = `${error.syscall ?? 'connect'} failed (${error.code ?? error.message})`;
      finish(error.code !== undefined && !CHILD_ERRORS.has(error.code) ? { ok: null, reason } : { ok: false, reason });
    });
  });
}
