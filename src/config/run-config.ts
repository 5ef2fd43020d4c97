// All of `sockvisor run`'s input, checked and resolved in one place before anything is created.
// The defaults are declared with the options (options.ts); the CLI only collects raw values.
import { constants } from 'node:os';
import { UsageError } from '../errors.js';
import { parseSignal, signalName } from '../child/exit.js';
import { prepareArgs, resolveExecutable } from '../command/command.js';
import type { PassedSocket } from '../command/passed-socket.js';
import { childVariables } from '../child/environment.js';
import { isUwsgi, namesHeldSocket, usesUwsgiMaster, UWSGI_DRAIN_SIGNAL } from '../uwsgi/command-line.js';
import { confirmWithUwsgi, readUwsgiConfig, type UwsgiConfig } from '../uwsgi/config.js';
import {
  checkConnectAccess,
  describeAccess,
  describeOwnership,
  describeVia,
  folderFixes,
  fixClause,
  type AccessVerdict,
  type FileOwnership,
} from '../socket/access.js';
import {
  currentIdentity,
  findNginxUser,
  identityOf,
  nginxIdentity,
  resolveGroup,
  resolveUser,
  type Identity,
  type NginxUser,
} from '../socket/identity.js';
import { formatMode } from '../socket/mode.js';
import { fileMode, resolveSocketPermissions, type SocketPermissions } from '../socket/permissions.js';
import { preflightSockets, type SocketPreflight } from '../socket/preflight.js';
import { checkPathTrust, ESCAPE, rememberPathTrust, systemAccounts, trustedUsers, type TrustContext } from '../socket/path-trust.js';
import { lookupUser } from '../native.js';
import { formatTcpAddress, parseSocketSpecs, parseTcpAddress } from '../socket/spec.js';
import type { SocketSpec, TcpAddress, UnixSocketSpec } from '../socket/spec.js';
import { resolveMetricsAddress } from '../metrics/address.js';
import { defaultBacklog } from '../socket/create.js';
import { defaultRestartPolicy, validateRestartOptions, type RestartPolicyOptions } from '../supervisor/restart-policy.js';
import { defaultChoice, defaultNumber, type SockvisorOptions } from './options.js';
import type { HealthSettings } from '../health/checker.js';
import { parseHealthCheck, type HealthRequest } from '../health/probe.js';
import type { SupervisionSettings } from '../supervisor/child-supervisor.js';

/** The options of `sockvisor run` as the user gave them (times in seconds), and COMMAND. */
export interface RunOptions extends SockvisorOptions {
  /** COMMAND and its ARGS, everything after -- */
  command: string[];
}

// The defaults below are the option table's, named for the code that needs one (systemd-unit's timeouts).
export const DEFAULT_STOP_TIMEOUT_S = defaultNumber('stopTimeout');
/** A child that says nothing on its NOTIFY_SOCKET is taken as ready after this long. */
export const DEFAULT_READY_AFTER_S = defaultNumber('readyAfter');
/** How long a reload's new child gets to be ready: a big app can take tens of seconds to import. */
export const DEFAULT_HANDOVER_TIMEOUT_S = defaultNumber('handoverTimeout');
/** The health check, when on: how often, how long a probe waits, how many failures in a row replace the child. */
export const DEFAULT_HEALTH_INTERVAL_S = defaultNumber('healthInterval');
export const DEFAULT_HEALTH_TIMEOUT_S = defaultNumber('healthTimeout');
export const DEFAULT_HEALTH_FAILURES = defaultNumber('healthFailures');
const MAX_HEALTH_FAILURES = 1_000_000;

/** --health-check and its settings, resolved. */
export interface HealthPlan extends HealthRequest, HealthSettings {}

/** A run, fully resolved: what to create, what to start, how to supervise. */
export interface RunPlan extends SupervisionSettings {
  sockets: SocketPreflight[];
  permissions: SocketPermissions;
  backlog: number;
  pass: 'fd' | 'stdin';
  command: { file: string; argv: string[]; uwsgi: boolean };
  /** the systemd protocol for the child (with --pass fd): not when {fd} placeholders gave the fds */
  listenFds: boolean;
  /** the user the child runs as (--user), when it changes */
  childUser: Identity | undefined;
  cwd: string;
  /** the health check of the first socket; null when off (the default) */
  health: HealthPlan | null;
  /** where /metrics is served; null when off (the default) */
  metrics: TcpAddress | null;
  /** sentences to log as warnings at start */
  warnings: string[];
  /** --probe: where to answer /ready and /live over HTTP; null: off */
  probe: TcpAddress | null;
}

export interface RunContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  invoking?: Identity;
  /** false: check the options only, not the socket paths (a unit file for a service that runs now) */
  preflight?: boolean;
}

/** The sockets uWSGI's configuration names that sockvisor can hold, used when it is given no --socket. */
function uwsgiSocketValues(config: UwsgiConfig): string[] {
  const values: string[] = [];
  for (const { target } of config.sockets) {
    const value = target.kind === 'unix' ? target.path : target.kind === 'tcp' ? formatTcpAddress(target.address) : null;
    if (value !== null && !values.includes(value)) values.push(value);
  }
  return values;
}

/** Sentences for the sockets uWSGI would bind itself: lost (or refusing connections) at every restart. */
function unheldUwsgiWarnings(config: UwsgiConfig, passed: PassedSocket[]): string[] {
  const warnings: string[] = [];
  for (const { option, target } of config.sockets) {
    if (target.kind === 'other' && target.reason !== 'host') continue;
    if (passed.some((s) => namesHeldSocket(target, s))) continue;
    const written = option.arg ? `${option.arg.option} ${option.value}` : `${option.key} = ${option.value}`;
    warnings.push(
      target.kind === 'unix'
        ? `uWSGI's ${written} (${option.where}) is not a socket sockvisor holds, so uWSGI binds '${target.path}' itself and it is lost at every restart: give it to sockvisor with -s ${target.path}.`
        : `uWSGI's ${written} (${option.where}) is not a socket sockvisor holds, so uWSGI listens there itself and refuses connections while it restarts: give the address to sockvisor with -s (as numbers, e.g. 127.0.0.1:8080).`,
    );
  }
  return warnings;
}

/**
 * The longest a Node timer can wait: 2^31-1 ms (about 24.8 days). A longer setTimeout fires after
 * 1 ms instead (TimeoutOverflowWarning), so a longer duration is refused, never capped in silence.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** MAX_TIMER_MS in whole seconds, as the refusal names it. */
export const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** A duration option in seconds, checked (0 or more, finite, a timer can hold it) and returned in milliseconds. */
export function checkSeconds(value: number | undefined, option: string, fallbackS: number): number {
  if (value === undefined) return fallbackS * 1000;
  // yargs turns `10s` into NaN: the text typed is lost, so the sentence names the form instead.
  if (Number.isNaN(value)) throw new UsageError(`${option} must be a number of seconds, written without a unit (e.g. 10 or 0.5).`);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`${option} must be a number of seconds of 0 or more, not '${value}'.`);
  }
  // Rounded: 0.0005 s is no timer's business, and ms * 1000 must compare exactly with the bound.
  const ms = Math.round(value * 1000);
  if (ms > MAX_TIMER_MS) {
    throw new UsageError(
      `${option} must be at most ${MAX_SECONDS} seconds (about 24.8 days, the longest a timer can wait), not '${value}'.`,
    );
  }
  return ms;
}

/** A count option (a whole number of 1 or more, at most max). */
export function checkCount(value: number | undefined, option: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${option} must be a whole number from 1 to ${max}, not '${value}'.`);
  }
  return value;
}

/** A signal option's value as a number; `like`: two names to suggest in the refusal. */
function checkSignal(value: string, option: string, like: string): number {
  const signo = parseSignal(value);
  if (signo === null) throw new UsageError(`Invalid ${option} '${value}': give a signal name like ${like}, or its number.`);
  return signo;
}

function resolveStopSignal(value: string | undefined, uwsgi: boolean): number {
  // uWSGI 2.0 treats SIGTERM as a brutal reload, not a stop; SIGINT shuts it down (docs/design-notes.md, 'uWSGI signals').
  if (value === undefined) return uwsgi ? constants.signals.SIGINT : constants.signals.SIGTERM;
  return checkSignal(value, '--stop-signal', 'SIGINT or SIGTERM');
}

/** uWSGI with a master: SIGPWR, mapped to its graceful shutdown by the hook sockvisor adds; else the stop signal. */
function resolveDrainSignal(value: string | undefined, stopSignal: number, uwsgiMaster: boolean): number {
  if (value === undefined) return uwsgiMaster ? UWSGI_DRAIN_SIGNAL : stopSignal;
  return checkSignal(value, '--drain-signal', 'SIGTERM or SIGQUIT');
}

/** As checkSeconds, in milliseconds, refusing 0 (and what rounds to 0 ms). */
function checkPositiveSeconds(value: number | undefined, option: string, fallbackS: number): number {
  const ms = checkSeconds(value, option, fallbackS);
  if (ms === 0) throw new UsageError(`${option} must be more than 0 seconds.`);
  return ms;
}

/** listen(2) takes an int; the kernel silently caps it at net.core.somaxconn. */
const MAX_BACKLOG = 2 ** 31 - 1;

function resolveBacklog(value: number | undefined): number {
  return value === undefined ? defaultBacklog() : checkCount(value, '--socket-backlog', 0, MAX_BACKLOG);
}

/** --health-check and its settings; the settings alone are refused: they would do nothing. */
function resolveHealth(options: RunOptions): HealthPlan | null {
  if (options.healthCheck === undefined) {
    const stray = (['healthInterval', 'healthTimeout', 'healthFailures'] as const).find((key) => options[key] !== undefined);
    if (stray) {
      const name = `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UsageError(`${name} does nothing without --health-check: add --health-check uwsgi:/PATH (or http:/PATH), or drop ${name}.`);
    }
    return null;
  }
  return {
    ...parseHealthCheck(options.healthCheck),
    intervalMs: checkPositiveSeconds(options.healthInterval, '--health-interval', DEFAULT_HEALTH_INTERVAL_S),
    timeoutMs: checkPositiveSeconds(options.healthTimeout, '--health-timeout', DEFAULT_HEALTH_TIMEOUT_S),
    failures: checkCount(options.healthFailures, '--health-failures', DEFAULT_HEALTH_FAILURES, MAX_HEALTH_FAILURES),
  };
}

/** --probe HOST:PORT, [V6]:PORT or :PORT (every IPv4 interface, as a kubelet reaches the pod's IP). */
function resolveProbe(value: string | undefined): TcpAddress | null {
  if (value === undefined) return null;
  const address = parseTcpAddress(value, '--probe');
  if (!address) {
    throw new UsageError(
      `--probe takes an address to answer HTTP probes on, not '${value}': ` +
        'give HOST:PORT, e.g. --probe :8081 (every interface) or 127.0.0.1:8081.',
    );
  }
  return address;
}

/** The user the child runs as (--user/--group); undefined keeps sockvisor's own. */
function resolveChildUser(options: RunOptions, invoking: Identity): Identity | undefined {
  if (options.user === undefined && options.group === undefined) return undefined;
  const user = options.user !== undefined ? resolveUser(options.user, '--user') : null;
  const group = options.group !== undefined ? resolveGroup(options.group, '--group') : null;
  const identity = user ? identityOf(user, group?.gid ?? user.gid) : { ...invoking, gid: group!.gid, groups: invoking.groups };
  if (
    invoking.uid !== 0 &&
    (identity.uid !== invoking.uid || (group && !invoking.groups.includes(group.gid) && group.gid !== invoking.gid))
  ) {
    throw new UsageError(`Only root can run the child as another user or group: drop --user/--group, or start sockvisor as root.`);
  }
  return identity;
}

/** The warning for one verdict that keeps who (nginx's user, or a --socket-allow user) out, or null. */
function accessWarning(
  who: Identity,
  role: string,
  path: string,
  verdict: AccessVerdict,
  socket: FileOwnership,
  groupName: string,
): string | null {
  if (verdict.ok || verdict.reason === 'unknown') return null;
  if (verdict.reason === 'directory') {
    return `${role} '${who.name}' cannot search the folder '${verdict.directory}'${describeVia(verdict.via)} (${describeOwnership(verdict.ownership)}), so it will get 502 Permission denied on '${path}': ${fixClause(folderFixes(who, verdict.directory))}.`;
  }
  return `${role} '${who.name}' cannot write the socket '${path}' (${describeOwnership(socket)}, ${describeAccess(verdict.access, socket)}), so it will get 502 Permission denied: add --socket-allow ${who.name} (an ACL entry for ${who.name} alone), or as root --socket-group ${groupName}.`;
}

/**
 * Warns when nginx's user, or a user given to --socket-allow, could not connect with the permissions chosen, naming the fix.
 * A guessed nginx user (no nginx here, as in an app container beside an nginx one) is left out once
 * the options name who may connect: the guess is then most likely not nginx's user at all.
 */
function accessWarnings(specs: SocketSpec[], permissions: SocketPermissions, nginx: NginxUser | null, named: boolean): string[] {
  const sockets = specs.filter((s): s is UnixSocketSpec => s.kind === 'unix');
  const socket: FileOwnership = { ...permissions, mode: fileMode(permissions) };
  const people: { who: Identity; role: string; groupName: string }[] = [];
  if (nginx && !(nginx.guessed && named)) people.push({ who: nginxIdentity(nginx), role: "nginx's user", groupName: nginx.group.name });
  for (const allowed of permissions.allow) {
    if (people.some((p) => p.who.uid === allowed.uid)) continue;
    const user = resolveUser(String(allowed.uid), '--socket-allow');
    people.push({ who: identityOf(user), role: 'the --socket-allow user', groupName: user.name });
  }
  const warnings: string[] = [];
  for (const { path } of sockets) {
    for (const { who, role, groupName } of people) {
      const warning = accessWarning(who, role, path, checkConnectAccess(who, path, socket), socket, groupName);
      if (warning) warnings.push(warning);
    }
  }
  return warnings;
}

/** uWSGI's --uid (it drops to that user itself), when it names a user. */
function uwsgiUid(config: UwsgiConfig | undefined): number | undefined {
  if (config?.uid === undefined) return undefined;
  return lookupUser(/^\d+$/.test(config.uid) ? Number(config.uid) : config.uid)?.uid;
}

/** A refusal's sentence as a warning: without the pointer to --insecure-path, which is given already. */
function withoutEscape(sentence: string): string {
  return sentence.replace(` ${ESCAPE}`, '');
}

/**
 * Refuses a socket path that someone sockvisor does not trust could redirect (a folder they may
 * write, a link they own); with --insecure-path the refusals are warnings. Each socket's verdict is
 * kept for the healer's re-check.
 */
function pathTrustWarnings(specs: SocketSpec[], trust: TrustContext, insecure: boolean): string[] {
  const warnings: string[] = [];
  for (const spec of specs) {
    if (spec.kind !== 'unix') continue;
    for (const problem of checkPathTrust(spec.path, trust)) {
      if (problem.severity === 'warn') warnings.push(problem.sentence);
      else if (insecure) warnings.push(`--insecure-path: starting although the path is unsafe: ${withoutEscape(problem.sentence)}`);
      else throw new UsageError(problem.sentence);
    }
    rememberPathTrust(spec, trust, insecure);
  }
  return warnings;
}

/** Checks and resolves every option of `run`; throws UsageError (exit 2) or RunError (126/127). */
export function planRun(options: RunOptions, context: RunContext): RunPlan {
  const invoking = context.invoking ?? currentIdentity();
  const [command, ...args] = options.command;
  if (command === undefined || command === '') {
    throw new UsageError('No COMMAND given: put the server to run after --, e.g. sockvisor -s /run/app/app.sock -- uwsgi --ini app.ini.');
  }
  const uwsgi = isUwsgi(command);
  const childUser = resolveChildUser(options, invoking);
  // What the child will see (less LISTEN_*): uWSGI's UWSGI_* options and $(ENV) come from it.
  const childEnv = childVariables(context.env, { socketNames: [], user: childUser });
  const uwsgiConfig = uwsgi ? readUwsgiConfig(args, { cwd: context.cwd, env: childEnv }) : undefined;

  let socketValues = options.socket ?? [];
  if (socketValues.length === 0 && uwsgiConfig) socketValues = uwsgiSocketValues(uwsgiConfig);
  if (socketValues.length === 0) {
    throw new UsageError(
      uwsgi
        ? "No socket to hold: give --socket PATH to sockvisor, or name it in uWSGI's options (-s PATH, or socket = PATH in its ini file)."
        : 'No socket to hold: give --socket PATH (e.g. -s /run/app/app.sock) before --.',
    );
  }
  const specs = parseSocketSpecs(socketValues, context.cwd);
  const pass = options.pass ?? defaultChoice<'fd' | 'stdin'>('pass');
  if (pass === 'stdin' && specs.length > 1) {
    throw new UsageError(`--pass stdin hands over one socket (as fd 0), but ${specs.length} are given: use --pass fd for several sockets.`);
  }

  // nginx.conf and NSS, read once: the socket's default group (as root), and the warnings below.
  const nginx = findNginxUser();
  const permissions = resolveSocketPermissions(
    {
      socketMode: options.socketMode,
      socketOwner: options.socketOwner,
      socketGroup: options.socketGroup,
      socketAllow: options.socketAllow,
    },
    uwsgiConfig ?? {},
    invoking,
    nginx,
  );
  const backlog = resolveBacklog(options.socketBacklog);

  const restart: RestartPolicyOptions = {
    mode: options.restart ?? defaultRestartPolicy.mode,
    initialDelayMs: checkSeconds(options.restartDelay, '--restart-delay', defaultRestartPolicy.initialDelayMs / 1000),
    maxDelayMs: checkSeconds(options.restartDelayMax, '--restart-delay-max', defaultRestartPolicy.maxDelayMs / 1000),
    healthyAfterMs: checkSeconds(options.healthyAfter, '--healthy-after', defaultRestartPolicy.healthyAfterMs / 1000),
    giveUpAfterMs: checkSeconds(options.giveUpAfter, '--give-up-after', defaultRestartPolicy.giveUpAfterMs / 1000),
  };
  if (restart.maxDelayMs < restart.initialDelayMs && options.restartDelayMax === undefined) restart.maxDelayMs = restart.initialDelayMs;
  validateRestartOptions(restart);
  const stopSignal = resolveStopSignal(options.stopSignal, uwsgi);
  const stopTimeoutMs = checkSeconds(options.stopTimeout, '--stop-timeout', DEFAULT_STOP_TIMEOUT_S);
  const drainSignal = resolveDrainSignal(options.drainSignal, stopSignal, uwsgi && usesUwsgiMaster(args, uwsgiConfig));
  // uWSGI always says READY=1 (docs/design-notes.md, 'Readiness (sd_notify)'): waiting for silence could only misjudge a slow start.
  const readyAfterMs =
    options.readyAfter === undefined && uwsgi ? null : checkSeconds(options.readyAfter, '--ready-after', DEFAULT_READY_AFTER_S);
  const handoverTimeoutMs = checkPositiveSeconds(options.handoverTimeout, '--handover-timeout', DEFAULT_HANDOVER_TIMEOUT_S);
  const health = resolveHealth(options);
  const probe = resolveProbe(options.probe);
  const metrics = resolveMetricsAddress(options.metrics);

  const file = resolveExecutable(command, context.env.PATH, context.cwd);
  const passed: PassedSocket[] = specs.map((spec, i) => ({
    name: spec.name,
    fd: pass === 'stdin' ? 0 : 3 + i,
    ...(spec.kind === 'unix' ? { path: spec.path } : { tcp: spec }),
  }));
  const prepared = prepareArgs(command, args, passed, context.cwd, uwsgiConfig);
  if (uwsgiConfig?.fromConfig) {
    confirmWithUwsgi(file, command, args, uwsgiConfig, { cwd: context.cwd, env: childEnv, uid: childUser?.uid, gid: childUser?.gid });
  }

  const named = options.socketGroup !== undefined || (options.socketAllow ?? []).length > 0 || (options.socketOwner ?? '').includes(':');
  const warnings = [...(uwsgiConfig?.warnings ?? []), ...accessWarnings(specs, permissions, nginx, named)];
  if (uwsgiConfig) warnings.push(...unheldUwsgiWarnings(uwsgiConfig, passed));
  if ((permissions.mode & 0o002) !== 0) {
    const nginxName = nginx?.user.name ?? 'www-data';
    warnings.push(
      `The socket mode ${formatMode(permissions.mode)} lets every local user connect to the app: prefer --socket-mode 0600 --socket-allow ${nginxName} (an ACL entry for nginx alone, no root needed), or 0660 with the group nginx runs as.`,
    );
  }

  // Everything that can be refused is checked; the path checks come last, just before creation:
  // first whether anyone untrusted could redirect the path, then what is at it.
  if (context.preflight !== false) {
    const trusted = trustedUsers([
      { uid: invoking.uid, why: "sockvisor's user" },
      { uid: permissions.uid, why: "the socket's owner" },
      { uid: childUser?.uid ?? uwsgiUid(uwsgiConfig), why: "the child's user" },
      { uid: nginx?.user.uid, why: "nginx's user" },
    ]);
    const trust: TrustContext = { trusted, accounts: systemAccounts(), asRoot: invoking.uid === 0 };
    warnings.push(...pathTrustWarnings(specs, trust, options.insecurePath ?? false));
  }
  const sockets =
    context.preflight === false
      ? specs.map((spec) => ({ spec, missingDirs: [], stale: null }))
      : preflightSockets(specs, { acl: permissions.acl !== null, anchor: true });
  return {
    sockets,
    permissions,
    backlog,
    pass,
    command: { file, argv: [command, ...prepared.args], uwsgi },
    listenFds: pass === 'fd' && prepared.listenFds,
    childUser,
    restart,
    stopSignal,
    stopTimeoutMs,
    drainSignal,
    readyAfterMs,
    handoverTimeoutMs,
    cwd: context.cwd,
    health,
    metrics,
    warnings,
    probe,
  };
}

/** For logs: `SIGINT after 10 s`. */
export function describeStop(plan: RunPlan): string {
  return `${signalName(plan.stopSignal)}, then SIGKILL to its process group after ${plan.stopTimeoutMs / 1000} s`;
}

/** For logs: how a handover goes. */
export function describeHandover(plan: RunPlan): string {
  const silence = plan.readyAfterMs === null ? '' : ` (or after ${plan.readyAfterMs / 1000} s of silence)`;
  return `new child ready at READY=1${silence} within ${plan.handoverTimeoutMs / 1000} s, then ${signalName(plan.drainSignal)} to the old one`;
}
