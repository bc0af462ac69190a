// Structured logging: JSON lines (pino) to stdout. One logger per process, created in main.ts and
// passed down; workers log through their own sync destination or send to main (see STACK.md).
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/options.js';

export type { Logger };

export interface CreateLoggerOptions {
  /** Where the JSON lines go; stdout by default. Tests pass an in-memory stream. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(level: LogLevel, opts: CreateLoggerOptions = {}): Logger {
  // pino.destination writes stdout through sonic-boom (async, flushed by pino on process exit);
  // a caller-provided stream is written to as is.
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Resolves once buffered lines are written; call before process.exit(). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
