// `--probe HOST:PORT`: the HTTP endpoints a kubelet (httpGet probes), docker's HEALTHCHECK or a load
// balancer asks. /ready follows the current child's readiness; /live only sockvisor's own event loop,
// so a crash of the child that sockvisor restarts by itself never gets the container restarted.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RunError } from '../errors.js';
import { formatTcpAddress, type TcpAddress } from '../socket/spec.js';
import type { SupervisorStatus } from '../supervisor/child-supervisor.js';

/** What a GET of each path answers: status code and a one-line body for people reading it with curl. */
export interface ProbeAnswer {
  status: number;
  body: string;
}

/**
 * The answer to GET path, pure: /ready is 200 only while the current child is ready and sockvisor is
 * not stopping (a pod on its way out leaves the Service's endpoints); /live is 200 whenever asked.
 */
export function probeAnswer(path: string, status: SupervisorStatus | null): ProbeAnswer {
  if (path === '/live') return { status: 200, body: 'live\n' };
  if (path !== '/ready') return { status: 404, body: 'GET /ready or /live\n' };
  if (status === null) return { status: 503, body: 'not ready: starting\n' };
  if (status.healthy && status.phase !== 'stopping') {
    return { status: 200, body: `ready: pid ${status.pid}, generation ${status.generation}\n` };
  }
  return { status: 503, body: `not ready: ${status.phase}\n` };
}

/** The probe endpoint of a run: listening before the first child starts, closed when the run is over. */
export class ProbeServer {
  readonly #server: Server;
  #status: (() => SupervisorStatus) | null = null;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on address; a port already taken (or not ours to bind) is a RunError, exit 2, before anything else is made. */
  static async listen(address: TcpAddress, logger: Logger): Promise<ProbeServer> {
    const where = formatTcpAddress(address);
    // node:http (and what it loads) only for a run with --probe: the others start without it.
    const { createServer } = await import('node:http');
    const server = createServer();
    const probes = new ProbeServer(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => probes.#answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const why = error.code ?? error.message;
        const message = `--probe cannot listen on ${where} (${why}): give a free port, e.g. --probe 0.0.0.0:8081.`;
        reject(new RunError(message, 2, { cause: error }));
      });
      server.listen({ host: address.address, port: address.port, ipv6Only: address.family === 6 }, resolve);
    });
    // Probes are tiny and never kept open by a kubelet; a stuck client must not hold a socket forever.
    server.requestTimeout = 5000;
    server.headersTimeout = 5000;
    server.keepAliveTimeout = 1000;
    const { port } = server.address() as { port: number };
    const url = `http://${formatTcpAddress({ ...address, port })}`;
    logger.info({ event: 'probe.listening', address: address.address, port }, `probes on ${url}/ready and ${url}/live`);
    return probes;
  }

  /** From now on /ready follows this status (before: 503, sockvisor is still starting). */
  follow(status: () => SupervisorStatus): void {
    this.#status = status;
  }

  /** Stops listening and drops the connections still open. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const get = req.method === 'GET' || req.method === 'HEAD';
    const answer = get ? probeAnswer(path, this.#status?.() ?? null) : { status: 405, body: 'GET only\n' };
    res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }
}
