// One child's life after start: stdin piping, stderr lines, timeouts, group kill and reaping.
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { RawChild } from './backend.js';
import type { ChildExit, ExitReason, SpawnedChild, SpawnRequest } from './types.js';

export interface SuperviseOptions {
  readonly killGraceMs: number;
  readonly stderrLimit: number;
  readonly log: Logger;
  /** Called once, when the child was reaped: frees its slot. */
  readonly onReaped: () => void;
}

/** How long `exited` waits for stderr's EOF after the reap. */
const STDERR_EOF_GRACE_MS = 100;
/**
 * After the reap, stdout still open means a descendant holds the pipe (`setsid cmd &` escapes
 * the group kill). What the script wrote is in the pipe already: once our buffer is empty and no
 * byte came for this long, stdout ends there, so the answer ends with the script.
 */
const STDOUT_DRAIN_MS = 25;

/** Resolves when `p` settles or after `ms`, whichever comes first. */
function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Errors a pipe to a child that stopped reading can raise: the script chose not to read its body. */
const PIPE_GONE = new Set(['EPIPE', 'ECONNRESET', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

export function supervise(raw: RawChild, request: SpawnRequest, opts: SuperviseOptions): SpawnedChild {
  const { pid, stdout } = raw;
  const log = opts.log;
  let killReason: ExitReason | null = null;
  let reaped = false;
  let stdoutClosed = false;
  let totalTimer: NodeJS.Timeout | undefined;
  let idleTimer: NodeJS.Timeout | undefined;

  /** Signals the whole process group (-pid): the script and everything it forked. */
  const signalGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') log.warn({ pid, sig, code }, 'cannot signal child process group');
    }
  };

  const stopTimers = (): void => {
    clearTimeout(totalTimer);
    clearTimeout(idleTimer);
  };

  const kill = (reason: ExitReason): void => {
    // Idempotent; and once the leader is reaped and its stdout closed, the group is gone and its
    // id may be reused: signalling it then could hit a stranger.
    if (killReason !== null || (reaped && stdoutClosed)) return;
    killReason = reason;
    stopTimers();
    log.debug({ pid, reason }, 'killing child process group');
    signalGroup('SIGTERM');
    // Escalate even if the leader died of the TERM: a grandchild that ignores TERM still holds
    // the group (and maybe our pipes). Issue 3: TERM, grace period, KILL.
    setTimeout(() => signalGroup('SIGKILL'), opts.killGraceMs);
  };

  const maybeDone = (): void => {
    if (reaped && stdoutClosed) stopTimers();
  };

  let stdoutEnded = false;
  stdout.once('end', () => (stdoutEnded = true));
  stdout.once('close', () => {
    stdoutClosed = true;
    maybeDone();
  });

  /** The script is reaped: end stdout once what it wrote was read (see STDOUT_DRAIN_MS). */
  const endStdoutWhenDrained = (): void => {
    let lastBytes = -1;
    const check = (): void => {
      if (stdoutEnded || stdoutClosed) return;
      const bytes = stdout.bytesRead ?? 0;
      if (bytes === lastBytes && stdout.readableLength === 0) {
        log.debug({ pid }, 'script exited; a descendant still holds its stdout: ending the response');
        raw.endStdout();
        return;
      }
      lastBytes = bytes;
      setTimeout(check, STDOUT_DRAIN_MS).unref();
    };
    setTimeout(check, STDOUT_DRAIN_MS).unref();
  };

  if (request.timeoutMs > 0) {
    totalTimer = setTimeout(() => kill('timeout'), request.timeoutMs);
    totalTimer.unref();
  }
  if (request.idleTimeoutMs > 0) armIdleTimer(raw, request.idleTimeoutMs, () => kill('idle-timeout'), (t) => (idleTimer = t));

  pipeStdin(raw, request.stdin);
  const stderrRead = readStderr(raw.stderr, opts.stderrLimit, request.onStderrLine);

  // The reap can come before our read of the last stderr bytes (two pipes, two events): `exited`
  // also waits for stderr's EOF, so every line was passed on (the pool sends them as FCGI_STDERR
  // before END_REQUEST). Bounded: a grandchild that inherited stderr may hold it open.
  const exited = raw.reaped.then(async (exit): Promise<ChildExit> => {
    reaped = true;
    maybeDone();
    if (!stdoutClosed) endStdoutWhenDrained();
    opts.onReaped();
    await within(stderrRead, STDERR_EOF_GRACE_MS);
    return { code: exit.code, signal: exit.signal, reason: killReason ?? 'exited' };
  });

  return { pid, stdout, exited, kill };
}

/**
 * The idle timer watches stdout.bytesRead instead of listening for 'data' (which would switch the
 * stream to flowing mode under the consumer's feet). Output waiting in our buffer means the
 * consumer is slow, not the script: that does not count as idle. Checked four times per period,
 * so a silent child is killed between 1 and 1.25 idle periods after its last output.
 */
function armIdleTimer(raw: RawChild, idleMs: number, onIdle: () => void, save: (t: NodeJS.Timeout) => void): void {
  const stdout = raw.stdout;
  const step = Math.max(5, Math.floor(idleMs / 4));
  let lastBytes = stdout.bytesRead ?? 0;
  let lastMove = Date.now();
  const check = (): void => {
    const bytes = stdout.bytesRead ?? 0;
    const now = Date.now();
    if (bytes !== lastBytes || stdout.readableLength > 0) {
      lastBytes = bytes;
      lastMove = now;
    } else if (now - lastMove >= idleMs) {
      onIdle();
      return;
    }
    const t = setTimeout(check, step);
    t.unref();
    save(t);
  };
  const t = setTimeout(check, step);
  t.unref();
  save(t);
}

/**
 * Streams the body to the child's stdin with backpressure (pipe), concurrently with the consumer
 * reading stdout, so a script that writes a lot before reading cannot deadlock us. A script that
 * does not read its body gets EPIPE on our side: we stop writing and drain the body so the
 * request can still finish.
 */
function pipeStdin(raw: RawChild, body: Readable | null): void {
  const stdin = raw.stdin;
  if (stdin === null) {
    body?.resume(); // cannot happen: backends make a pipe whenever there is a body
    return;
  }
  if (body === null) {
    stdin.on('error', () => {});
    stdin.end();
    return;
  }
  stdin.on('error', (err: NodeJS.ErrnoException) => {
    body.unpipe(stdin);
    body.resume();
    if (!PIPE_GONE.has(err.code ?? '')) stdin.destroy();
  });
  body.on('error', () => stdin.destroy());
  body.pipe(stdin);
}

/**
 * Splits stderr into lines for the log, at most `limit` bytes per child; past the cap we keep
 * draining (a child blocked on a full stderr pipe would hang) and report the cut once.
 */
function readStderr(stderr: Readable, limit: number, onLine: ((line: string) => void) | undefined): Promise<void> {
  // Settles at EOF (after the last line was emitted), or when the pipe failed or closed.
  const done = new Promise<void>((resolve) => {
    stderr.once('end', () => resolve());
    stderr.once('close', () => resolve());
    stderr.once('error', () => resolve());
  });
  stderr.on('error', () => {});
  if (!onLine) {
    stderr.resume();
    return done;
  }
  let used = 0;
  let capped = false;
  let pending: Buffer = Buffer.alloc(0);
  const emit = (bytes: Buffer): void => {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    onLine(bytes.subarray(0, end).toString('utf8'));
  };
  stderr.on('data', (chunk: Buffer) => {
    if (capped) return;
    const take = chunk.subarray(0, Math.max(0, limit - used));
    used += take.length;
    let buf = pending.length > 0 ? Buffer.concat([pending, take]) : take;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      emit(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    pending = Buffer.from(buf);
    if (take.length < chunk.length) {
      capped = true;
      if (pending.length > 0) emit(pending);
      pending = Buffer.alloc(0);
      onLine(`[forkfast: stderr truncated after ${limit} bytes]`);
    }
  });
  stderr.on('end', () => {
    if (!capped && pending.length > 0) emit(pending);
  });
  return done;
}
