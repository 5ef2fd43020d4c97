// Where logs go is the CLI's decision: stderr, JSON when not on a terminal, readable on one.
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import pino, { type Logger } from 'pino';
import { DEFAULT_LOG_FORMAT, DEFAULT_LOG_LEVEL, type LogFormat, type LogLevel } from '../config/options.js';
import { NonBlockingDestination } from './log-destination.js';

/**
 * pino-pretty, loaded only for the readable format: JSON logs (services, pipes) never need its ~30
 * files at start (a CommonJS package: require() gives the same module an import would).
 */
function prettyFactory(options: import('pino-pretty').PrettyOptions): ReturnType<typeof import('pino-pretty').prettyFactory> {
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return pretty.prettyFactory(options);
}

/** How long sockvisor waits at exit for a slow stderr reader to take the last records. */
export const LOG_FLUSH_TIMEOUT_MS = 2000;

const destinations = new WeakMap<Logger, NonBlockingDestination>();

/**
 * A pino logger on fd 2 that never blocks supervision (see log-destination.ts); flushLogs() before
 * exit writes the last records (giving up, stopped, exit status). stdout stays free for commands
 * that print something.
 */
export function createLogger(format: LogFormat = DEFAULT_LOG_FORMAT, level: LogLevel = DEFAULT_LOG_LEVEL): Logger {
  const usePretty = format === 'pretty' || (format === 'auto' && isatty(2));
  // Each message is a whole sentence; the fields are for machines (JSON), not for people.
  const destination = usePretty
    ? new NonBlockingDestination(
        2,
        prettyFactory({ colorize: isatty(2), hideObject: true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' }),
      )
    : new NonBlockingDestination(2);
  // No base fields: `pid` in a record is the child's (the journal and ps know sockvisor's own).
  const logger = pino({ level, base: undefined }, destination);
  destination.onDropped = (lines) =>
    logger.warn({ event: 'log.dropped', lines }, `${lines} log record(s) were dropped while stderr was not being read`);
  destinations.set(logger, destination);
  return logger;
}

/** Waits until every record is written to stderr, or timeoutMs; true when all were written. */
export function flushLogs(logger: Logger, timeoutMs = LOG_FLUSH_TIMEOUT_MS): Promise<boolean> {
  return destinations.get(logger)?.flush(timeoutMs) ?? Promise.resolve(true);
}
