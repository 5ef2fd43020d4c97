// Describing how a child ended, in words and as a shell-style status (128+N for signal N).
import { constants } from 'node:os';

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** SIGKILL for 9; 'signal 64' for numbers without a name. */
export function signalName(signo: number): string {
  return signalNames.get(signo) ?? `signal ${signo}`;
}

/** Parses SIGTERM, TERM, term or 15 into a signal number; null when it is no signal. */
export function parseSignal(value: string | number): number | null {
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const num = Number(value);
    return num > 0 && num < 65 ? num : null;
  }
  const upper = value.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return (constants.signals as Record<string, number>)[name] ?? null;
}

export interface ExitStatus {
  code: number | null;
  signal: number | null;
}

/** "exited with code 1", "was killed by SIGKILL". */
export function describeExit(exit: ExitStatus): string {
  if (exit.signal !== null) return `was killed by ${signalName(exit.signal)}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

/** The status a shell would report: the code, or 128 + the signal number. */
export function shellStatus(exit: ExitStatus): number {
  if (exit.signal !== null) return 128 + exit.signal;
  return exit.code ?? 1;
}
