// A real nginx per test, running its workers as www-data (as in production), with its own prefix,
// pid file, logs and temp paths, on a free loopback port. Stopped by pid (SIGQUIT), never by name.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childrenOf, commOf, isAlive, waitGone, waitUntil } from './proc.js';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

export interface NginxOptions {
  socketPath?: string;
  /** how nginx speaks to the socket: uwsgi_pass (default) or proxy_pass (uWSGI --http-socket) */
  protocol?: 'uwsgi' | 'http';
  /**
   * A configuration of the test's own instead of one location passing to socketPath: the files to
   * write under the prefix, nginx.conf first (nginxConfWith gives the usual skeleton).
   */
  files?: (prefix: string, port: number) => Record<string, string> & { 'nginx.conf': string };
  /**
   * Run nginx in the foreground (`daemon off;`) as the last word of this command instead of
   * letting it daemonize here: e.g. unshare and a shell that makes mounts of its own (another
   * container's /etc/passwd) and ends with exec "$@". Its pid file then holds a pid of another
   * pid namespace: the master is found below the process started, and stopped by that pid.
   */
  wrap?: string[];
}

export interface RunningNginx {
  port: number;
  prefix: string;
  /** the nginx.conf it runs with (nginx -c) */
  conf: string;
  masterPid: number;
  errorLogText(): Promise<string>;
  stop(): Promise<void>;
}

const running = new Set<RunningNginx>();

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The nginx.conf of a test: every path under prefix, one server passing everything to the socket. */
export function nginxConf(prefix: string, port: number, options: NginxOptions): string {
  const pass =
    options.protocol === 'http'
      ? `proxy_pass http://unix:${options.socketPath}:;`
      : `include /etc/nginx/uwsgi_params;\n      uwsgi_pass unix:${options.socketPath};`;
  return nginxConfWith(prefix, port, { server: `location / {\n      ${pass}\n    }` });
}

/**
 * The skeleton every test nginx uses (workers as www-data unless told, all paths under prefix)
 * around a server's body and more http directives.
 */
export function nginxConfWith(prefix: string, port: number, parts: { http?: string; server: string; user?: string }): string {
  return `user ${parts.user ?? 'www-data'};
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 1024; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  ${parts.http ?? ''}
  server {
    listen 127.0.0.1:${port};
    ${parts.server}
  }
}
`;
}

async function waitForPidFile(path: string, timeoutMs = 10000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nginx wrote no pid file at ${path} within ${timeoutMs} ms`);
}

/** Starts nginx as root with `user www-data;` (or the conf given); it daemonizes (unless wrapped) and is stopped by its master's pid. */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const prefix = await makeTempDir('sockvisor-nginx-');
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  const files = options.files ? options.files(prefix, port) : { 'nginx.conf': nginxConf(prefix, port, options) };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(prefix, name), text);
  const nginxArgs = ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')];
  let wrapperPid: number | null = null;
  let masterPid: number;
  if (options.wrap) {
    const [file, ...args] = options.wrap;
    const wrapper = spawn(file!, [...args, 'nginx', ...nginxArgs, '-g', 'daemon off;'], { stdio: 'ignore' });
    wrapperPid = wrapper.pid!;
    let found: number | undefined;
    const masterBelow = (pid: number): number | undefined => {
      for (const child of childrenOf(pid)) if (commOf(child) === 'nginx') return child;
      for (const child of childrenOf(pid)) {
        const below = masterBelow(child);
        if (below !== undefined) return below;
      }
      return undefined;
    };
    // Found once it runs nginx and has started its worker(s): then it listens.
    if (!(await waitUntil(() => (found = masterBelow(wrapperPid!)) !== undefined && childrenOf(found).length > 0, 10000))) {
      wrapper.kill('SIGKILL');
      throw new Error(`nginx did not start below ${options.wrap.join(' ')}: see ${join(prefix, 'error.log')}`);
    }
    masterPid = found!;
  } else {
    await run('nginx', nginxArgs);
    masterPid = await waitForPidFile(join(prefix, 'nginx.pid'));
  }
  const handle: RunningNginx = {
    port,
    prefix,
    conf,
    masterPid,
    errorLogText: async () => {
      try {
        return readFileSync(join(prefix, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    },
    stop: async () => {
      running.delete(handle);
      // A wrapper (unshare --kill-child) is gone only once nginx and its namespace are.
      const last = wrapperPid ?? masterPid;
      if (!isAlive(masterPid)) {
        if (wrapperPid !== null && !(await waitGone(wrapperPid, 5000))) process.kill(wrapperPid, 'SIGKILL');
        return;
      }
      process.kill(masterPid, 'SIGQUIT');
      if (await waitGone(last, 10000)) return;
      // A master stuck in shutdown: kill it and its workers, each by pid.
      for (const pid of [...childrenOf(masterPid), masterPid, ...(wrapperPid === null ? [] : [wrapperPid])]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    },
  };
  running.add(handle);
  return handle;
}

/** Stops every nginx this test file started (by pid). */
export async function stopAllNginx(): Promise<void> {
  await Promise.all([...running].map((n) => n.stop()));
}
