import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

/** The hub's logger: pino, writing JSON lines. Components take a `child({ component })` of it. */
export type HubLogger = PinoLogger;

/** Log levels accepted by the `logLevel` setting. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LogLevel;
  /** Where the JSON lines go. Default: standard error, so stdout carries only the start-up line. */
  destination?: DestinationStream;
}

/**
 * Creates the hub's root logger. Logs go to stderr by default: `backroom-hub` keeps stdout for the one
 * `{"event":"listening",...}` line that scripts wait for, so nothing else may ever be written there.
 */
export function createLogger(options: CreateLoggerOptions): HubLogger {
  // Synchronous writes: a log line written just before a crash or an exit is not lost.
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  return pino({ level: options.level, base: { name: 'backroom-hub' } }, destination);
}
