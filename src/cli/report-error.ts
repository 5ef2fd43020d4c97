// Turning an error into one log record and an exit status.
import type { Logger } from 'pino';
import { RunError, UsageError } from '../errors.js';

/** Logs the error's sentence (with its cause for debugging) and returns the exit status it carries. */
export function reportError(error: unknown, logger: Logger): number {
  if (error instanceof UsageError || error instanceof RunError) {
    logger.error(
      { event: error instanceof UsageError ? 'usage-error' : 'run-error', exitCode: error.exitCode, cause: error.cause },
      error.message,
    );
    return error.exitCode;
  }
  logger.fatal({ event: 'internal-error', err: error }, `internal error: ${(error as Error)?.message ?? String(error)}`);
  return 70;
}
