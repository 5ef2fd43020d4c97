// Where logs go is the CLI's decision: stderr, JSON when not on a terminal, readable on one.
import { isatty } from 'node:tty';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { DEFAULT_LOG_FORMAT, DEFAULT_LOG_LEVEL, type LogFormat, type LogLevel } from '../config/options.js';


/**
 * A pino logger on fd 2. Writes are synchronous, so the last records (giving up, stopped) are on
 * stderr before the process exits; stdout stays free for commands that print something.
 */
export function createLogger(format: LogFormat = DEFAULT_LOG_FORMAT, level: LogLevel = DEFAULT_LOG_LEVEL): Logger {
  const usePretty = format === 'pretty' || (format === 'auto' && isatty(2));
  // No base fields: `pid` in a record is the child's (the journal and ps know sockvisor's own).
  const options = { level, base: undefined };
  if (usePretty) {
    // Each message is a whole sentence; the fields are for machines (JSON), not for people.
    return pino(options, pretty({ destination: 2, sync: true, colorize: isatty(2), hideObject: true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
