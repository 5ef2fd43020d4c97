// `sockvisor systemd-unit`: the service file that runs a checked sockvisor command line under
// systemd. Every choice here follows from how sockvisor and uWSGI behave:
// - Type=notify: sockvisor sends READY=1 once the first child is ready (uWSGI's READY=1 or a
//   silent child after --ready-after), so units ordered After= this one start when it serves.
// - ExecReload=kill -HUP: SIGHUP is sockvisor's handover. systemd 252 (Debian 12) has no
//   Type=notify-reload; sockvisor's RELOADING=1 ... READY=1 lets newer systemd track the reload.
// - KillMode=mixed: SIGTERM to sockvisor alone, which stops the child its own way (uWSGI takes
//   SIGTERM as a brutal *reload*); whatever is left after TimeoutStopSec gets SIGKILL.
// - TimeoutStopSec: sockvisor's --stop-timeout plus a margin, so sockvisor's own SIGKILL comes
//   first and it still removes the socket file.
// - RuntimeDirectory: sockets under /run/NAME/ get that folder made at start (0755: nginx's user
//   must search it) and removed at stop, the usual home of a service's sockets.
// - RestartPreventExitStatus=2: exit 2 is bad usage or configuration, which a restart repeats.
// The template unit (sockvisor@.service) makes the same choices for one config file per instance.
import { accessSync, constants, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULT_HANDOVER_TIMEOUT_S, DEFAULT_STOP_TIMEOUT_S, type RunPlan } from '../config/run-config.js';
import { describeSocket } from '../socket/spec.js';

export interface UnitInput {
  plan: RunPlan;
  /** how to start sockvisor: absolute node and script paths (or the installed binary) */
  execStart: string[];
  /** the run options exactly as given before --, kept in ExecStart */
  runArgs: string[];
  /** COMMAND's arguments as given (sockvisor rewrites them itself at each start) */
  commandArgs: string[];
  /** SOCKVISOR_* variables in effect: they are options too */
  env: NodeJS.ProcessEnv;
}

/** Extra seconds systemd waits beyond sockvisor's own stop timeout. */
const STOP_MARGIN_S = 5;
/** systemd's default start timeout, kept unless the handover timeout needs more. */
const SYSTEMD_START_TIMEOUT_S = 90;

/** One ExecStart word, escaped for systemd.service(5): % and $ doubled, quoted when needed. */
export function quoteExecArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%$+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The folders under /run that hold sockets, relative to /run, for RuntimeDirectory=. */
export function runtimeDirectories(socketPaths: string[]): string[] {
  const dirs = new Set<string>();
  for (const path of socketPaths) {
    const dir = dirname(path.replace(/^\/var\/run\//, '/run/'));
    if (dir.startsWith('/run/')) dirs.add(dir.slice('/run/'.length));
  }
  return [...dirs];
}

/** The PATH systemd gives services (systemd.exec(5)), where `#!/usr/bin/env node` looks for node. */
export const SYSTEMD_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The first executable NAME in these folders, or undefined. */
function which(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: the next folder
    }
  }
  return undefined;
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export interface RunningCli {
  /** process.argv[1]: the script as started, a launcher such as /usr/bin/sockvisor or the entry script itself */
  script: string;
  /** process.execPath */
  node: string;
  /** the PATH folders searched for an installed `sockvisor` */
  path: string[];
  /** where systemd looks for node (SYSTEMD_PATH, or a test's folders) */
  systemdPath?: string[];
}

/**
 * How systemd should start the sockvisor that runs now. The installed command (/usr/bin/sockvisor
 * from the .deb, /usr/local/bin/sockvisor from `npm install -g`) when there is one that leads to
 * this very script, so the unit survives an upgrade that moves the package's files; it starts
 * through `#!/usr/bin/env node`, so it is used only when the node systemd finds first is this one.
 * Otherwise the absolute node and script (a checkout, or node from nvm outside systemd's PATH).
 */
export function sockvisorExecStart(cli: RunningCli): string[] {
  const script = realpathOrSelf(resolve(cli.script));
  const node = realpathOrSelf(cli.node);
  const systemdNode = which('node', cli.systemdPath ?? SYSTEMD_PATH);
  if (systemdNode !== undefined && realpathOrSelf(systemdNode) === node) {
    const launchers = [resolve(cli.script), ...cli.path.filter((dir) => dir.startsWith('/')).map((dir) => join(dir, 'sockvisor'))];
    const launcher = launchers.find(
      (candidate) =>
        candidate !== script && which(basename(candidate), [dirname(candidate)]) !== undefined && realpathOrSelf(candidate) === script,
    );
    if (launcher !== undefined) return [launcher];
  }
  return [cli.node, script];
}

/** Where the template unit reads each instance's config file: %i is the instance name. */
export const TEMPLATE_CONFIG = '/etc/sockvisor/%i.toml';

/** Service lines both units share: reload is a handover, stop and restart as sockvisor needs. */
function serviceLines(stopS: number, stopWhy: string, startS: number): string[] {
  return [
    `# SIGHUP: a new child on the same socket; the old one drains once the new one is ready.`,
    `ExecReload=/bin/kill -HUP $MAINPID`,
    `# SIGTERM to sockvisor alone: it stops the child its own way (uWSGI reloads on SIGTERM).`,
    `KillMode=mixed`,
    `KillSignal=SIGTERM`,
    `# ${stopWhy}`,
    `TimeoutStopSec=${stopS}`,
    `TimeoutStartSec=${startS}`,
  ];
}

/** From After= to Type=notify: the same in the template and in a unit for one command line. */
const NOTIFY_SERVICE_LINES = [
  `After=network.target`,
  ``,
  `[Service]`,
  `# sockvisor says READY=1 once the first child is ready, and answers WatchdogSec= while it is.`,
  `Type=notify`,
  `NotifyAccess=main`,
];

/** The end of every unit: enabled, it starts at boot. */
const INSTALL_LINES = [``, `[Install]`, `WantedBy=multi-user.target`, ``];

const RESTART_LINES = [
  `Restart=on-failure`,
  `RestartSec=2`,
  `# Exit 2 is bad usage or configuration (the journal says what to fix): restarting repeats it.`,
  `RestartPreventExitStatus=2`,
  `# WatchdogSec=30`,
];

/**
 * sockvisor@.service: one instance per config file, /etc/sockvisor/NAME.toml holding the options
 * and COMMAND; `systemctl enable --now sockvisor@NAME` starts one. The file cannot be read here,
 * so the timeouts are the defaults' (a drop-in raises them for a longer --stop-timeout).
 */
export function templateUnit(execStart: string[]): string {
  const stopS = DEFAULT_STOP_TIMEOUT_S + STOP_MARGIN_S;
  const startS = Math.max(SYSTEMD_START_TIMEOUT_S, DEFAULT_HANDOVER_TIMEOUT_S + 30);
  const words = [...execStart, 'run', '--config', TEMPLATE_CONFIG].map((word) => (word === TEMPLATE_CONFIG ? word : quoteExecArg(word)));
  return [
    `# sockvisor@.service: one sockvisor per config file. For an app named shop:`,
    `#   /etc/sockvisor/shop.toml   the options and COMMAND (see /etc/sockvisor/app.toml.example)`,
    `#   systemctl enable --now sockvisor@shop`,
    `# Its sockets belong under /run/sockvisor/shop/ (made at start, removed at stop), its logs are`,
    `# journalctl -u sockvisor@shop (tagged sockvisor-shop). Relative paths in the file are read from /.`,
    `# A stop-timeout above ${DEFAULT_STOP_TIMEOUT_S} s or a handover-timeout above ${DEFAULT_HANDOVER_TIMEOUT_S} s: raise TimeoutStopSec=/TimeoutStartSec=`,
    `# with \`systemctl edit sockvisor@shop\`; the same way WatchdogSec=30 turns the watchdog on.`,
    `[Unit]`,
    `Description=sockvisor %i (${TEMPLATE_CONFIG})`,
    ...NOTIFY_SERVICE_LINES,
    `ExecStart=${words.join(' ')}`,
    `SyslogIdentifier=sockvisor-%i`,
    ...serviceLines(
      stopS,
      `the default --stop-timeout (${DEFAULT_STOP_TIMEOUT_S} s) plus ${STOP_MARGIN_S} s: sockvisor's own SIGKILL comes first and it removes the socket.`,
      startS,
    ),
    `RuntimeDirectory=sockvisor/%i`,
    `RuntimeDirectoryMode=0755`,
    ...RESTART_LINES,
    ...INSTALL_LINES,
  ].join('\n');
}

/** The unit file text. */
export function systemdUnit(input: UnitInput): string {
  const { plan } = input;
  const paths = plan.sockets.flatMap((s) => (s.spec.kind === 'unix' ? [s.spec.path] : []));
  const stopS = Math.ceil(plan.stopTimeoutMs / 1000) + STOP_MARGIN_S;
  const startS = Math.max(SYSTEMD_START_TIMEOUT_S, Math.ceil(plan.handoverTimeoutMs / 1000) + 30);
  const runtime = runtimeDirectories(paths);
  const words = (list: string[]): string => list.map(quoteExecArg).join(' ');
  const execStart = [words(input.execStart), words(['run', ...input.runArgs]), words(['--', plan.command.file, ...input.commandArgs])].join(
    ' \\\n    ',
  );
  const env = Object.entries(input.env)
    .filter(([key, value]) => key.startsWith('SOCKVISOR_') && value !== undefined)
    .map(([key, value]) => `Environment=${quoteExecArg(`${key}=${value}`)}`);

  return [
    `# Generated by sockvisor systemd-unit. Save as /etc/systemd/system/NAME.service, then:`,
    `#   systemctl daemon-reload && systemctl enable --now NAME`,
    `[Unit]`,
    `Description=${basename(plan.command.file)} on ${plan.sockets.map((s) => describeSocket(s.spec)).join(', ')} (socket held by sockvisor)`,
    ...NOTIFY_SERVICE_LINES,
    `ExecStart=${execStart}`,
    `WorkingDirectory=${quoteExecArg(plan.cwd)}`,
    ...env,
    ...serviceLines(
      stopS,
      `--stop-timeout (${plan.stopTimeoutMs / 1000} s) plus ${STOP_MARGIN_S} s: sockvisor's own SIGKILL comes first and it removes the socket.`,
      startS,
    ),
    ...(runtime.length > 0 ? [`RuntimeDirectory=${runtime.join(' ')}`, `RuntimeDirectoryMode=0755`] : []),
    ...RESTART_LINES,
    ...INSTALL_LINES,
  ].join('\n');
}
