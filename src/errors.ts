// Errors that end sockvisor with a documented exit status (docs/usage.md, 'Exit status').
// The message is one sentence a user can act on: what is wrong, where, and how to fix it.

/** Exit statuses of the sockvisor process. */
export const ExitCode = {
  ok: 0,
  gaveUp: 1,
  usage: 2,
  /** status, reload, stop: no sockvisor runs on that socket (or its control socket is stale) */
  notRunning: 3,
  /** status, reload, stop: the control socket refused this user */
  permissionDenied: 4,
  notExecutable: 126,
  notFound: 127,
} as const;

/** Bad command line or configuration: reported before anything is created, exit 2. */
export class UsageError extends Error {
  readonly exitCode: number = ExitCode.usage;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** A failure at run time that is not the user's input (e.g. a system call failed). */
export class RunError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunError';
    this.exitCode = exitCode;
  }
}
