// `sockvisor status` for people: one block per running sockvisor, its children, sockets and history.
import { formatDuration } from '../supervisor/lifecycle-log.js';
import type { StatusAnswer } from './protocol.js';

/** 3m12s, 2h05m, 4d03h: an uptime at a glance. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** Columns padded to their widest cell. */
function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}

/** The human report of one status answer; now is the wall clock to age times from. */
export function formatStatus(socket: string, s: StatusAnswer, now = Date.now()): string {
  const { stats, supervisor } = s;
  const lines = [`${socket}: sockvisor ${s.version}, pid ${s.pid}, up ${formatAge(s.uptimeMs)}, ${supervisor.phase}`];
  const generations = [['GEN', 'PID', 'ROLE', 'READY', 'HOW']];
  for (const g of stats.generations) {
    const ready = g.readyAt === null ? 'not yet' : `${formatAge(now - g.readyAt)} ago`;
    const how = g.readyHow === null ? '-' : g.readyHow === 'notified' ? 'READY=1' : '--ready-after';
    generations.push([String(g.number), String(g.pid ?? '-'), g.role, ready, how]);
  }
  if (generations.length === 1) lines.push('  no child runs');
  else lines.push(...table(generations));
  const { done, abandoned, last } = stats.handovers;
  lines.push(`  restarts: ${stats.restarts}; handovers: ${done} done, ${abandoned} abandoned`);
  if (last !== null) {
    const took = last.durationMs === null ? '' : ` in ${formatDuration(last.durationMs)}`;
    lines.push(`  last handover (${formatAge(now - last.at)} ago): ${last.result}${took}: ${last.reason}`);
  }
  if (stats.exits.length > 0) {
    lines.push(`  last exits (${stats.exitsTotal} in all):`);
    for (const e of stats.exits.slice(-5).reverse()) {
      const why = e.expected ? ' (asked for)' : '';
      lines.push(
        `    ${formatAge(now - e.at)} ago: generation ${e.generation}, pid ${e.pid ?? '-'} ${e.reason} ` +
          `after ${formatDuration(e.uptimeMs)}${why}`,
      );
    }
  }
  const sockets = [['SOCKET', 'OWNER', 'MODE', 'INODE', 'QUEUE']];
  for (const k of s.sockets) {
    const owner = k.owner === null ? '-' : `${k.owner}:${k.group}`;
    const queue = k.queued === null ? `-/${k.backlog}` : `${k.queued}/${k.backlog}`;
    sockets.push([k.address, owner, k.mode ?? '-', k.inode === null ? '-' : String(k.inode), queue]);
  }
  lines.push(...table(sockets));
  const repairs = Object.entries(stats.repairs);
  lines.push(`  repairs: ${repairs.length === 0 ? 'none' : repairs.map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
