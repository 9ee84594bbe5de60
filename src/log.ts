// The pino logger: JSON lines for machines, pretty lines when stdout is a terminal.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };
export type LogLevel = LevelWithSilent;
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LogOptions {
  level: LogLevel;
  /** Pretty, coloured lines (pino-pretty); default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go; default stdout. Tests pass a stream to parse the lines. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions): Logger {
  const base = { pid: process.pid };
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && opts.destination === undefined);
  if (pretty) {
    return pino({
      level: opts.level,
      base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  if (opts.destination) return pino({ level: opts.level, base }, opts.destination);
  // Asynchronous stdout writes: lines written while a write is pending are batched into one.
  return pino({ level: opts.level, base }, pino.destination({ dest: 1, sync: false }));
}

/** A log file written synchronously (a pool worker's: its last lines must survive a SIGKILL). */
export function openLogFileSync(path: string): NodeJS.WritableStream & { reopen(): void } {
  return pino.destination({ dest: path, sync: true, append: true }) as unknown as NodeJS.WritableStream & { reopen(): void };
}

/** A logger that drops everything: for library use and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
