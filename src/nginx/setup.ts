// nginx's effective configuration, as nginx itself reads it: `nginx -T` (test and dump, with the
// same -c/-p the running nginx uses) and the compiled-in defaults of `nginx -V`. doctor is not the
// supervisor, so a plain child_process is fine here.
import { execFile } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import {
  errorLogFiles,
  findUnixUpstreams,
  parseNginxDump,
  userDirective,
  type ConfigPlace,
  type NginxConfigFile,
  type UnixUpstream,
} from './config.js';

const run = promisify(execFile);

export interface NginxOptions {
  /** nginx's -c */
  conf?: string | undefined;
  /** nginx's -p */
  prefix?: string | undefined;
}

export interface NginxSetup {
  /** the command doctor ran, for messages */
  command: string;
  files: NginxConfigFile[];
  /** nginx's `user` (place null: nginx's compiled-in default, as no `user` directive is given) */
  user: { name: string; group?: string; place: ConfigPlace | null };
  upstreams: UnixUpstream[];
  /** *_pass directives whose target holds variables: known only per request */
  unresolved: (ConfigPlace & { directive: string; value: string })[];
  /** every error_log file, absolute */
  errorLogs: { path: string; place: ConfigPlace | null }[];
}

/** nginx -T failed: its configuration does not load (the same message nginx -t gives). */
export interface NginxBroken {
  command: string;
  error: string;
}

/** The --name=value options nginx was built with (`nginx -V`). */
export function parseBuildOptions(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const match of text.matchAll(/--([a-z-]+)=(\S+)/g)) options.set(match[1]!, match[2]!);
  return options;
}

function nginxArgs(options: NginxOptions, first: string): string[] {
  return [first, ...(options.prefix ? ['-p', options.prefix] : []), ...(options.conf ? ['-c', options.conf] : [])];
}

async function runNginx(args: string[]): Promise<{ stdout: string; stderr: string; failed: boolean }> {
  try {
    const { stdout, stderr } = await run('nginx', args, { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
    return { stdout, stderr, failed: false };
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new UsageError(
        'nginx was not found in PATH, so --nginx and --explain-log without a FILE cannot read its configuration: run doctor where nginx is installed, or name the sockets (and the error.log FILE) yourself.',
      );
    }
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(e.message), failed: true };
  }
}

/** Reads nginx's effective configuration: every file with its directives, its user, unix upstreams and error logs. */
export async function readNginxSetup(options: NginxOptions): Promise<NginxSetup | NginxBroken> {
  const dumpArgs = nginxArgs(options, '-T');
  const command = `nginx ${dumpArgs.join(' ')}`;
  const dump = await runNginx(dumpArgs);
  if (dump.failed) {
    const emerg = (dump.stderr.split('\n').find((l) => /\[emerg\]/.test(l)) ?? dump.stderr.trim().split('\n')[0] ?? 'it failed').replace(
      /^nginx: /,
      '',
    );
    // nginx -T tests the configuration by opening what nginx opens (pid file, logs): as another
    // user than root that fails on a sound configuration, and prints no dump.
    if (process.geteuid!() !== 0 && /\(13: Permission denied\)/.test(emerg)) {
      throw new UsageError(
        `${command} cannot read nginx's configuration as a user other than root (${emerg}): run sockvisor doctor as root, or name the socket paths yourself.`,
      );
    }
    return { command, error: emerg };
  }
  const build = parseBuildOptions((await runNginx(['-V'])).stderr);
  const files = parseNginxDump(dump.stdout);
  const configured = userDirective(files);
  const user = configured
    ? { name: configured.user, ...(configured.group ? { group: configured.group } : {}), place: configured.place }
    : // Without `user`, workers run as the compiled-in user: nobody (nginx's auto/options), or --user=.
      { name: build.get('user') ?? 'nobody', group: build.get('group') ?? 'nogroup', place: null };
  const prefix = options.prefix ?? build.get('prefix') ?? '/usr/share/nginx';
  // Relative error_log paths are relative to nginx's prefix (ngx_conf_full_name).
  const errorLogs: NginxSetup['errorLogs'] = errorLogFiles(files).map((l) => ({
    path: isAbsolute(l.path) ? l.path : resolve(prefix, l.path),
    place: l.place,
  }));
  const compiledLog = build.get('error-log-path');
  if (errorLogs.length === 0 && compiledLog && compiledLog !== 'stderr') {
    errorLogs.push({ path: isAbsolute(compiledLog) ? compiledLog : resolve(prefix, compiledLog), place: null });
  }
  const { upstreams, unresolved } = findUnixUpstreams(files);
  return { command, files, user, upstreams, unresolved, errorLogs };
}
