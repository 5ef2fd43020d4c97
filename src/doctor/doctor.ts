// `sockvisor doctor` as a library function: decide who to check as, collect the socket paths (from
// the command line, nginx's configuration, nginx's error.log), gather the facts of each, judge them.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { findNginxUser, groupNameOf, identityOf, nginxIdentity, resolveGroup, resolveNginxUser, resolveUser } from '../socket/identity.js';
import type { Identity } from '../socket/identity.js';
import { MAX_SOCKET_PATH_BYTES } from '../socket/spec.js';
import { expectedNginxError, formatPlace, judgeSocket, type Check, type NginxError, type Reference } from './checks.js';
import { explainErrno, readErrorLog, type FailureCount, type LogGroup } from '../nginx/error-log.js';
import { gatherSocketFacts } from './facts.js';
import { askHolder, type Holder } from './holder.js';
import { readNginxSetup, type NginxOptions, type NginxSetup } from '../nginx/setup.js';
import type { ConfigPlace } from '../nginx/config.js';

export interface DoctorOptions {
  /** socket paths as given (relative to cwd) */
  sockets: string[];
  /** --as USER */
  as?: string | undefined;
  /** --groups: supplementary groups (names or gids) the user checked is in besides its own */
  groups?: string[] | undefined;
  /** --nginx: check every unix socket nginx's configuration names */
  nginx: boolean;
  /** nginx's -c and -p, for --nginx and for finding the error log */
  nginxOptions: NginxOptions;
  /** --explain-log: undefined when not asked, '' for nginx's configured error logs, else a FILE */
  explainLog?: string | undefined;
  cwd: string;
}

export interface LogFinding extends FailureCount {
  file: string;
  explanation: string;
}

export interface SocketReport {
  path: string;
  ok: boolean;
  /** where nginx's configuration names it */
  references: Reference[];
  /** what nginx's error.log says about it */
  log: LogFinding[];
  checks: Check[];
  /** what nginx, as the user checked, would log for this path now; null when it would connect */
  nginxWouldLog: NginxError | null;
  /** the running sockvisor that holds it, as its status says; null when none does */
  sockvisor: Holder | null;
}

export interface DoctorReport {
  ok: boolean;
  user: { name: string; uid: number; gid: number; groups: { gid: number; name: string }[]; source: string };
  /** doctor ran as root and connected as the user to confirm each verdict */
  confirmedByConnect: boolean;
  nginx?: {
    command: string;
    ok: boolean;
    error?: string;
    /** nginx's `user` directive; null place: nginx's compiled-in default */
    user?: { name: string; group?: string; place: ConfigPlace | null };
    /** *_pass targets with variables, which doctor cannot follow */
    unresolved: (ConfigPlace & { directive: string; value: string })[];
  };
  logs?: { file: string; place: ConfigPlace | null; error?: string }[];
  sockets: SocketReport[];
}

function checkedPath(value: string, cwd: string): string {
  const path = resolve(cwd, value);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(
      `'${path}' is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a unix socket path may have, so no program can connect to it: check the path.`,
    );
  }
  return path;
}

/** The identity doctor checks as, the name of its group for fixes, and where it came from. */
interface ChosenUser {
  who: Identity;
  groupName: string;
  source: string;
}

/**
 * --groups added to the identity checked: a uid that exists only in another container (nginx's in
 * a sidecar) has no group list here, so the ones it gets there (a pod's fsGroup) are given by hand.
 */
function withGroups(chosen: ChosenUser, values: string[] | undefined): ChosenUser {
  if (!values || values.length === 0) return chosen;
  const gids = values
    .flatMap((v) => v.split(','))
    .filter((v) => v !== '')
    .map((v) => resolveGroup(v.trim(), '--groups').gid);
  const groups = [...new Set([...chosen.who.groups, ...gids])];
  return { ...chosen, who: { ...chosen.who, groups }, source: `${chosen.source}, groups from --groups` };
}

/** Who to check as: --as USER, else nginx's user (from its configuration when read), else www-data & co. */
function chooseUser(options: DoctorOptions, setup: NginxSetup | null): ChosenUser {
  if (options.as !== undefined) {
    const user = resolveUser(options.as, '--as');
    const who = identityOf(user);
    return { who, groupName: groupNameOf(user.gid), source: '--as' };
  }
  if (setup) {
    const nginx = resolveNginxUser(setup.user.name, setup.user.group);
    const where = setup.user.place ? formatPlace(setup.user.place) : "nginx's compiled-in default";
    if (!nginx) {
      throw new UsageError(
        `nginx's user '${setup.user.name}' (${where}) does not exist on this machine, so nginx cannot start its workers: fix the user directive, or give --as USER.`,
      );
    }
    return { who: nginxIdentity(nginx), groupName: nginx.group.name, source: `nginx's user (${where})` };
  }
  const nginx = findNginxUser();
  if (!nginx)
    throw new UsageError(
      'No nginx user was found on this machine (no user directive, no www-data, nginx or http user): give the user to check as with --as USER.',
    );
  return { who: nginxIdentity(nginx), groupName: nginx.group.name, source: "nginx's user" };
}

/** The error logs to read: the FILE given, or every error_log of nginx's configuration. */
async function readLogs(
  options: DoctorOptions,
  setup: NginxSetup | null,
): Promise<{ logs: NonNullable<DoctorReport['logs']>; groups: (LogGroup & { file: string })[] }> {
  const files: { file: string; place: ConfigPlace | null }[] = [];
  if (options.explainLog) {
    files.push({ file: resolve(options.cwd, options.explainLog), place: null });
  } else if (setup) {
    const seen = new Set<string>();
    for (const log of setup.errorLogs) if (!seen.has(log.path) && seen.add(log.path)) files.push({ file: log.path, place: log.place });
    if (files.length === 0) {
      throw new UsageError(
        "nginx's configuration names no error_log file (it logs to stderr or syslog): give the file to read, --explain-log FILE.",
      );
    }
  }
  const logs: NonNullable<DoctorReport['logs']> = [];
  const groups: (LogGroup & { file: string })[] = [];
  for (const { file, place } of files) {
    try {
      for (const group of await readErrorLog(file)) groups.push({ ...group, file });
      logs.push({ file, place });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      if (options.explainLog)
        throw new UsageError(
          `The error log '${file}' cannot be read (${code}): give the path of nginx's error.log (see error_log in nginx -T).`,
        );
      logs.push({ file, place, error: code });
    }
  }
  return { logs, groups };
}

/** Runs every check on every socket path doctor is asked about; never throws for a failed check, only for bad usage. */
export async function diagnose(options: DoctorOptions): Promise<DoctorReport> {
  const positional = options.sockets.map((s) => checkedPath(s, options.cwd));
  if (positional.length === 0 && !options.nginx && options.explainLog === undefined) {
    throw new UsageError(
      'Nothing to check: name the socket(s), e.g. sockvisor doctor /run/app/app.sock, or give --nginx to check the ones nginx is configured with, or --explain-log.',
    );
  }
  const needNginx = options.nginx || options.explainLog === '';
  const read = needNginx ? await readNginxSetup(options.nginxOptions) : null;
  const setup = read && 'files' in read ? read : null;
  const { who, groupName, source } = withGroups(chooseUser(options, setup), options.groups);
  const confirm = process.geteuid!() === 0 && who.uid !== 0;

  const paths = new Map<string, { references: Reference[]; log: LogFinding[] }>();
  const entry = (path: string): { references: Reference[]; log: LogFinding[] } => {
    let found = paths.get(path);
    if (!found) paths.set(path, (found = { references: [], log: [] }));
    return found;
  };
  for (const path of positional) entry(path);
  if (options.nginx && setup) {
    for (const u of setup.upstreams) {
      entry(resolve(options.cwd, u.path)).references.push({
        ...u.place,
        directive: u.directive,
        ...(u.upstream ? { upstream: u.upstream, usedBy: u.usedBy ?? [] } : {}),
      });
    }
  }
  let logs: DoctorReport['logs'];
  if (options.explainLog !== undefined && (setup || options.explainLog)) {
    const read = await readLogs(options, setup);
    logs = read.logs;
    for (const group of read.groups) {
      for (const f of group.failures) entry(group.path).log.push({ ...f, file: group.file, explanation: explainErrno(f.errno, who.name) });
    }
  }

  const sockets: SocketReport[] = [];
  for (const [path, { references, log }] of paths) {
    const facts = gatherSocketFacts(path, who, confirm);
    const checks = judgeSocket(facts, { who, groupName, references });
    const sockvisor = await askHolder(path);
    sockets.push({
      path,
      ok: checks.every((c) => c.status !== 'fail'),
      references,
      log,
      checks,
      nginxWouldLog: expectedNginxError(facts, who),
      sockvisor,
    });
  }

  const report: DoctorReport = {
    ok: sockets.every((s) => s.ok) && (read === null || setup !== null),
    user: { name: who.name, uid: who.uid, gid: who.gid, groups: who.groups.map((gid) => ({ gid, name: groupNameOf(gid) })), source },
    confirmedByConnect: confirm,
    sockets,
  };
  if (read) {
    report.nginx = setup
      ? { command: setup.command, ok: true, user: setup.user, unresolved: setup.unresolved }
      : { command: read.command, ok: false, error: (read as { error: string }).error, unresolved: [] };
  }
  if (logs) report.logs = logs;
  return report;
}
