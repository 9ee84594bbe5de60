// Where a server process's logs go: stdout or --log-file, the access log beside it, buffered
// writes flushed every second, and the SIGUSR1 reopen that lets logrotate move the files away.
import { pino } from 'pino';
import type { AccessLogFormat } from './config.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { createAccessLog, type AccessLog } from './http/access-log.js';

type Boom = ReturnType<typeof pino.destination>;

/**
 * Lines are gathered up to this many characters per write(2): the access log would otherwise cost
 * one system call per request (measured in docs/performance.md).
 */
const BATCH_CHARS = 4096;
/** No line waits longer than this in the buffer. */
const FLUSH_EVERY_MS = 1000;

/**
 * A pino destination (a SonicBoom, asynchronous) fed in batches. The batching is done here, not
 * with sonic-boom's own minLength: sonic-boom appends each line to a growing string and measures
 * that string's byte length on every write, which flattens it: 4-16 KiB copied per line, some
 * 10 µs per access line (measured). Here a line is pushed to an array; a batch is joined once.
 */
class Destination {
  readonly boom: Boom;
  private pending: string[] = [];
  private pendingChars = 0;
  private scheduled = false;

  constructor(readonly file: string | undefined) {
    this.boom = pino.destination({ dest: file ?? 1, sync: false, append: true });
  }

  /** An access line: goes out with its batch, or within a second. */
  write(line: string): void {
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= BATCH_CHARS) this.flush();
  }

  /** A server log line: written within this turn of the event loop, not a second later. */
  writeSoon(line: string): void {
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Hands the batch to sonic-boom, which writes it now, or right after the write under way. */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.boom.write(batch);
  }

  reopen(): void {
    this.flush();
    if (this.file !== undefined) this.boom.reopen();
  }

  /** The way out: what is buffered goes out before the process ends. */
  flushSync(): void {
    this.flush();
    try {
      this.boom.flushSync();
    } catch {
      // Not open yet, or destroyed: sonic-boom's own exit hook has the rest.
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

  const timer = dests.length > 0 ? setInterval(() => dests.forEach((d) => d.flush()), FLUSH_EVERY_MS) : undefined;
  timer?.unref();

  const reopen = (): void => {
    for (const d of dests) d.reopen();
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
