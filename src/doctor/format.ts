// doctor's report as text for people: one line per check with a pass/fail mark, and under each
// failure its fixes. Pure: the CLI decides where it goes.
import type { CheckStatus } from './checks.js';
import { formatPlace } from './checks.js';
import type { DoctorReport, SocketReport } from './doctor.js';
import { describeHolder } from './holder.js';

const MARKS: Record<CheckStatus, string> = { pass: '[ok]  ', fail: '[FAIL]', skip: '[--]  ', unknown: '[??]  ' };
const INDENT = '         ';

function describeUser(report: DoctorReport): string {
  const { user } = report;
  const groups = user.groups.map((g) => g.name).join(', ');
  const confirm = report.confirmedByConnect ? `; as root, each verdict is confirmed by connecting as ${user.name}` : '';
  return `checking as ${user.name} (uid ${user.uid}, groups: ${groups || 'none'}), ${user.source}${confirm}`;
}

function formatSocket(socket: SocketReport): string[] {
  const lines = [socket.path];
  if (socket.sockvisor) lines.push(`  ${describeHolder(socket.sockvisor)}`);
  for (const ref of socket.references) {
    const users = (ref.usedBy ?? []).map((u) => `${u.directive} at ${formatPlace(u)}`).join(', ');
    const upstream = ref.upstream ? ` in upstream ${ref.upstream} (${users ? `used by ${users}` : 'used by no *_pass'})` : '';
    lines.push(`  nginx: ${ref.directive}${upstream} at ${formatPlace(ref)}`);
  }
  for (const f of socket.log) {
    const when = f.first === f.last ? f.first : `${f.first} to ${f.last}`;
    lines.push(`  error.log: ${f.count} x (${f.errno}: ${f.message}), ${when}: ${f.explanation}`);
  }
  for (const check of socket.checks) {
    lines.push(`  ${MARKS[check.status]} ${check.title}${check.detail ? `: ${check.detail}` : ''}`);
    if (check.status !== 'fail') continue;
    for (const fix of check.fixes) lines.push(`${INDENT}fix: ${fix.command ? `${fix.text}: ${fix.command}` : fix.text}`);
  }
  const now = socket.nginxWouldLog;
  if (socket.log.length > 0 || socket.references.length > 0) {
    lines.push(
      now
        ? `  now nginx would log: connect() to unix:${socket.path} failed (${now.errno}: ${now.message})`
        : `  now nginx would connect${socket.log.length > 0 ? ': the errors in the log are over (a restart, or fixed since)' : ''}`,
    );
  }
  return lines;
}

/** The whole report as text, ending with a one-line summary. */
export function formatReport(report: DoctorReport): string {
  const lines = [`sockvisor doctor: ${describeUser(report)}`];
  if (report.nginx) {
    const n = report.nginx;
    if (!n.ok) {
      lines.push(`[FAIL] nginx's configuration loads (${n.command}): ${n.error}`, `${INDENT}fix: correct it until 'nginx -t' passes`);
    } else {
      const where = n.user?.place ? formatPlace(n.user.place) : "nginx's compiled-in default, no user directive";
      lines.push(`nginx: ${n.command}: workers run as ${n.user?.name ?? '?'}${n.user?.group ? `:${n.user.group}` : ''} (${where})`);
      for (const u of n.unresolved)
        lines.push(`[??]   ${u.directive} ${u.value} at ${formatPlace(u)}: the target holds variables, known only per request`);
    }
  }
  for (const log of report.logs ?? []) {
    lines.push(log.error ? `error log ${log.file}: cannot be read (${log.error})` : `error log ${log.file}: read`);
  }
  if (report.sockets.length === 0) lines.push('no unix socket to check (nginx names none, and the log has no failed connect to one)');
  for (const socket of report.sockets) lines.push('', ...formatSocket(socket));
  const failed = report.sockets.filter((s) => !s.ok).length;
  const checks = report.sockets.flatMap((s) => s.checks).filter((c) => c.status === 'fail').length;
  lines.push(
    '',
    report.ok
      ? `all checks pass on ${report.sockets.length} socket${report.sockets.length === 1 ? '' : 's'}.`
      : `${checks} check${checks === 1 ? '' : 's'} failed on ${failed} of ${report.sockets.length} socket${report.sockets.length === 1 ? '' : 's'}${report.nginx && !report.nginx.ok ? ", and nginx's configuration does not load" : ''}.`,
  );
  return `${lines.join('\n')}\n`;
}
