// The portable spawn backend: node's child_process (libuv forks the whole Node process).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { diagnoseStartFailure } from './diagnose.js';
import type { RawChild, RawExit, StartChild } from './backend.js';
import { SpawnError, type SpawnRequest } from './types.js';

const ELF_MAGIC = 0x7f454c46;

/**
 * libuv's exec falls back to `/bin/sh file` on ENOEXEC (execvp(3) semantics), so a file with the
 * execute bit but no `#!` line would run as a shell script. The gateway promises execve semantics
 * (issue 3), so we look at the magic first: `#!` or an ELF header, else ENOEXEC. It costs three
 * small syscalls, next to a fork of the whole Node process. Other binfmt_misc formats are refused.
 */
function looksExecutable(file: string): boolean {
  let fd = -1;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(4);
    const n = readSync(fd, buf, 0, 4, 0);
    if (n >= 2 && buf[0] === 0x23 && buf[1] === 0x21) return true;
    return n === 4 && buf.readUInt32BE(0) === ELF_MAGIC;
  } catch {
    return true; // unreadable (e.g. execute-only): let exec decide and report.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** NUL cannot cross execve; a '=' in a name would let it spoof another variable. */
function badEnv(env: Readonly<Record<string, string>>): boolean {
  for (const key in env) if (key === '' || key.includes('=') || key.includes('\0') || env[key]?.includes('\0')) return true;
  return false;
}

export const startNodeChild: StartChild = async (request: SpawnRequest): Promise<RawChild> => {
  if (badEnv(request.env) || request.args.some((a) => a.includes('\0'))) {
    throw new SpawnError('EINVAL', `cannot execute "${request.file}": NUL byte or bad variable name in its arguments or environment`);
  }
  if (!looksExecutable(request.file)) throw await diagnoseStartFailure('ENOEXEC', request.file, request.cwd);
  let child;
  try {
    child = spawn(request.file, [...request.args], {
      cwd: request.cwd,
      env: { ...request.env },
      // detached: setsid(), so the child leads its own process group and kill(-pid) reaches
      // every process it forked (issue 3, "Children's lives").
      detached: true,
      shell: false,
      // No body: stdin is /dev/null (EOF at once), one pipe fewer to create and close.
      stdio: [request.stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (err) {
    // Synchronous failures: E2BIG, EINVAL (NUL in env), EMFILE...
    const code = (err as NodeJS.ErrnoException).code ?? 'EINVAL';
    throw await diagnoseStartFailure(code, request.file, request.cwd);
  }
  const started = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', (err) => resolve(err));
  });
  if (started) {
    throw started.code ? await diagnoseStartFailure(started.code, request.file, request.cwd) : new SpawnError('EUNKNOWN', started.message);
  }
  // Errors after start (a kill of a reaped pid, EPIPE on stdin) are handled by the spawner.
  child.on('error', () => {});
  const reaped = new Promise<RawExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const { stdin, stdout, stderr } = child;
  if (child.pid === undefined || !stdout || !stderr) throw new SpawnError('EUNKNOWN', 'child_process.spawn returned no pid or pipes');
  const endStdout = (): void => {
    if (stdout.readableEnded || stdout.destroyed) return;
    // Stop reading the pipe first: a later write of the descendant must not come after our EOF.
    (stdout as unknown as { _handle?: { readStop?: () => void } | null })._handle?.readStop?.();
    stdout.once('end', () => stdout.destroy());
    stdout.push(null);
  };
  return { pid: child.pid, stdin: request.stdin === null ? null : stdin, stdout, stderr, endStdout, reaped };
};
