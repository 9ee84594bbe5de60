// Where a server process's logs go: stdout or --log-file, the access log beside it, buffered
// writes flushed every second, and the SIGUSR1 reopen that lets logrotate move the files away.
import { pino } from 'pino';
import type { AccessLogFormat } from './config.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { createAccessLog, type AccessLog } from './http/access-log.js';

type Boom = ReturnType<typeof pino.destination>;

/**
 * Lines are gathered up to this many bytes per write(2): the access log would otherwise cost
 * one system call per request (measured in docs/performance.md).
 */
const BATCH_BYTES = 4096;
/** No line waits longer than this in the buffer. */
const FLUSH_EVERY_MS = 1000;

/**
 * A buffered pino destination (a SonicBoom) with two ways to flush: soon (server log lines, so an
 * operator sees them at once) and every second (access lines, batched).
 */
class Destination {
  readonly boom: Boom;
  private wantFlush = false;
  private scheduled = false;

  constructor(readonly file: string | undefined) {
    this.boom = pino.destination({ dest: file ?? 1, sync: false, minLength: BATCH_BYTES, append: true });
    // A flush asked while a write is under way is done when that write ends.
    this.boom.on('drain', () => {
      if (this.wantFlush) this.flushNow();
    });
  }

  write(line: string): void {
    this.boom.write(line);
  }

  /** A server log line: written within this turn of the event loop, not a second later. */
  writeSoon(line: string): void {
    this.boom.write(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushNow();
    });
  }

  flushNow(): void {
    // sonic-boom 4 exposes no "writing" flag; its flush() is a no-op during a write, so the
    // request is remembered and done on 'drain'.
    const state = this.boom as unknown as { _writing: boolean; _len: number; destroyed: boolean };
    if (state.destroyed) return;
    if (state._writing) {
      this.wantFlush = true;
      return;
    }
    this.wantFlush = false;
    if (state._len > 0) this.boom.flush();
  }

  reopen(): void {
    if (this.file !== undefined) this.boom.reopen();
  }

  /** The way out: what is buffered goes out before the process ends. */
  flushSync(): void {
    try {
      this.boom.flushSync();
    } catch {
      // Not open yet, or a write in flight (sonic-boom finishes it before exit): nothing to add.
    }
  }
}

export interface LogOutputOptions {
  readonly level: LogLevel;
  readonly logFile?: string | undefined;
  readonly accessLog?: AccessLogFormat;
  readonly accessLogFile?: string | undefined;
}

export interface LogOutputs {
  readonly log: Logger;
  /** The access log writer; undefined when --access-log is off (or a JSON line's level is off). */
  readonly access: AccessLog | undefined;
  /** SIGUSR1: flush, then reopen every log file (logrotate's postrotate). */
  reopen(): void;
  /** Installs the SIGUSR1 handler (also keeps Node's default, starting the inspector, away). */
  onSigusr1(also?: () => void): () => void;
  /** Writes out whatever is buffered, synchronously: for every way out. */
  flushSync(): void;
  close(): void;
}

export function openLogs(opts: LogOutputOptions): LogOutputs {
  const pretty = opts.logFile === undefined && process.stdout.isTTY === true;
  const dests: Destination[] = [];
  let log: Logger;
  let main: Destination | undefined;
  if (pretty) {
    log = createLogger({ level: opts.level, pretty: true });
  } else {
    main = new Destination(opts.logFile);
    dests.push(main);
    const sink = main;
    log = createLogger({ level: opts.level, pretty: false, destination: { write: (line: string) => sink.writeSoon(line) } as unknown as NodeJS.WritableStream });
  }

  let access: AccessLog | undefined;
  const format = opts.accessLog ?? 'off';
  if (format !== 'off') {
    let accessDest = main;
    if (opts.accessLogFile !== undefined) {
      accessDest = new Destination(opts.accessLogFile);
      dests.push(accessDest);
    }
    // On a terminal the JSON access line goes through the pretty printer like every other line.
    if (accessDest === undefined && format === 'json') access = createAccessLog('json', undefined, log);
    else {
      if (accessDest === undefined) {
        accessDest = new Destination(undefined);
        dests.push(accessDest);
      }
      const d = accessDest;
      access = createAccessLog(format, (line) => d.write(line), log);
    }
  }

  const timer = dests.length > 0 ? setInterval(() => dests.forEach((d) => d.flushNow()), FLUSH_EVERY_MS) : undefined;
  timer?.unref();

  const reopen = (): void => {
    for (const d of dests) {
      d.flushNow();
      d.reopen();
    }
  };
  const flushSync = (): void => {
    for (const d of dests) d.flushSync();
  };
  return {
    log,
    access,
    reopen,
    onSigusr1(also) {
      const handler = (): void => {
        reopen();
        also?.();
        log.info({ files: dests.flatMap((d) => (d.file === undefined ? [] : [d.file])) }, 'log files reopened');
      };
      process.on('SIGUSR1', handler);
      return () => process.off('SIGUSR1', handler);
    },
    flushSync,
    close() {
      clearInterval(timer);
      flushSync();
      log.flush?.();
    },
  };
}
