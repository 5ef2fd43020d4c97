// Prometheus metrics of a run: the child's state, restarts, handovers and their duration, repairs,
// and each held unix socket's accept queue, read at scrape time (one sock_diag request per socket,
// no file I/O), plus prom-client's default process metrics. Counters are derived from RunStats at
// each scrape, so there is one account of what happened.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Gauge, Registry } from 'prom-client';
import type { RunStats } from '../control/stats.js';
import { unixListenQueue } from '../native.js';
import type { HeldSocket } from '../socket/create.js';
import { formatTcpAddress, type TcpAddress } from '../socket/spec.js';
import type { ChildSupervisor } from '../supervisor/child-supervisor.js';

/** Handovers last from a fraction of a second (uWSGI preloaded) to the whole --handover-timeout (60 s by default). */
const HANDOVER_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface MetricsSources {
  supervisor: ChildSupervisor;
  stats: RunStats;
  /** the held sockets now (the healer may have made one anew) */
  sockets: () => readonly HeldSocket[];
}

/**
 * prom-client, loaded at the first use: only a run with --metrics needs it, and loading its ~30 files
 * would cost every other start (a CommonJS package: require() gives the same module an import would).
 */
function promClient(): typeof import('prom-client') {
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
}

/** A registry with sockvisor's metrics and the default process ones; the handover histogram follows stats. */
export function createMetrics(sources: MetricsSources): { registry: Registry; close: () => void } {
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = promClient();
  const { supervisor, stats, sockets } = sources;
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'sockvisor_child_up',
    help: 'Whether a current child process runs (1) or not (0: between a crash and its restart, or stopping)',
    registers,
    collect() {
      this.set(supervisor.status.pid === null ? 0 : 1);
    },
  });
  new Gauge({
    name: 'sockvisor_child_ready',
    help: 'Whether the current child is ready (READY=1, or --ready-after of silence)',
    registers,
    collect() {
      this.set(supervisor.status.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sockvisor_generations',
    help: 'Child processes running, by role: current, candidate (a handover under way), retiring (draining)',
    labelNames: ['role'],
    registers,
    collect() {
      const counts: Record<string, number> = { current: 0, candidate: 0, retiring: 0 };
      for (const g of stats.snapshot().generations) counts[g.role] = (counts[g.role] ?? 0) + 1;
      for (const [role, n] of Object.entries(counts)) this.set({ role }, n);
    },
  });
  new Counter({
    name: 'sockvisor_child_restarts_total',
    help: 'Restarts of the child by the restart policy, by how the child before had ended (code N, or the signal)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.snapshot().restartsByReason)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'sockvisor_handovers_total',
    help: 'Handovers (reload, SIGHUP, a socket made anew) by result: done, or abandoned (the new child failed)',
    labelNames: ['result'],
    registers,
    collect() {
      const { done, abandoned } = stats.snapshot().handovers;
      this.reset();
      this.inc({ result: 'done' }, done);
      this.inc({ result: 'abandoned' }, abandoned);
    },
  });
  const durations = new Histogram({
    name: 'sockvisor_handover_duration_seconds',
    help: 'From the reload request to the new child ready (done) or given up (abandoned)',
    labelNames: ['result'],
    buckets: HANDOVER_BUCKETS,
    registers,
  });
  const off = stats.onHandover((o) => {
    if (o.durationMs !== null) durations.observe({ result: o.result }, o.durationMs / 1000);
  });
  new Counter({
    name: 'sockvisor_socket_repairs_total',
    help: 'Repairs of the held sockets by kind: permissions-restored, relinked, created, folder-made, anchor-relinked',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(stats.snapshot().repairs)) this.inc({ kind }, n);
    },
  });
  const queue = (which: 'queued' | 'backlog') =>
    function collect(this: Gauge): void {
      this.reset();
      for (const s of sockets()) {
        if (s.kind !== 'unix') continue;
        try {
          this.set({ socket: s.spec.path }, unixListenQueue(s.fd)[which]);
        } catch {
          // closed meanwhile (made anew): the next scrape reads the new one
        }
      }
    };
  new Gauge({
    name: 'sockvisor_socket_queued',
    help: "Connections waiting in the held unix socket's accept queue now (ss -xl Recv-Q)",
    labelNames: ['socket'],
    registers,
    collect: queue('queued'),
  });
  new Gauge({
    name: 'sockvisor_socket_backlog',
    help: 'The backlog the held unix socket listens with (ss -xl Send-Q): the queue is full one above it',
    labelNames: ['socket'],
    registers,
    collect: queue('backlog'),
  });
  return { registry, close: off };
}

/** Serves GET /metrics on address; a listen error is logged and the run goes on without it. */
export function serveMetrics(address: TcpAddress, sources: MetricsSources, logger: Logger): { close: () => void } {
  const { registry, close } = createMetrics(sources);
  const where = formatTcpAddress(address);
  // node:http, like prom-client, only for a run with --metrics (require: this start of the run is synchronous).
  const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('sockvisor serves /metrics only\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    logger.error(
      { event: 'metrics.unavailable', address: where, err: error },
      `cannot serve metrics on ${where} (${error.code ?? error.message}): the run goes on without them`,
    );
  });
  server.listen({ host: address.address, port: address.port }, () => {
    logger.info({ event: 'metrics.listening', address: where }, `metrics at http://${where}/metrics`);
  });
  return {
    close() {
      close();
      server.close();
      server.closeAllConnections?.();
    },
  };
}
