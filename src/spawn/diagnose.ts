// Turns an exec failure (errno from the child's execve, or from clone in the native helper) into a SpawnError that says why.
import { constants as fsc } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { SpawnError } from './types.js';

/** Bytes of the file we read to find a `#!` line (Linux honours up to 255 since 5.1). */
const SHEBANG_MAX = 256;

/** The first bytes of a file, or null when it cannot be read. */
async function head(file: string, n: number): Promise<Buffer | null> {
  try {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The interpreter named on a `#!` line, exactly as the kernel reads it (up to blank or newline). */
export function shebangInterpreter(bytes: Buffer): string | null {
  if (bytes.length < 2 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return null;
  let end = bytes.indexOf(0x0a, 2);
  if (end < 0) end = bytes.length;
  const line = bytes.subarray(2, end).toString('latin1').replace(/^[ \t]+/, '');
  const m = /^[^ \t]*/.exec(line);
  return m ? m[0] : '';
}

/** Shows control characters (a CR from CRLF line endings above all) as ^M and friends. */
function visible(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\x7f' ? '^?' : `^${String.fromCharCode(c.charCodeAt(0) + 64)}`));
}

/**
 * Explains why `file` could not be executed. execve(2) reports ENOENT both for a missing program
 * and for a missing `#!` interpreter (and libuv also for a missing cwd), so we look at the file
 * to tell the operator which one it was: fcgiwrap's users lose hours on a bare "No such file".
 */
export async function diagnoseStartFailure(code: string, file: string, cwd: string): Promise<SpawnError> {
  const say = (message: string): SpawnError => new SpawnError(code, message);
  if (code === 'E2BIG') return say(`cannot execute "${file}": environment and arguments too large for exec (E2BIG)`);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOEXEC') {
    if (!(await exists(file))) return say(`cannot execute "${file}": no such file`);
    const bytes = await head(file, SHEBANG_MAX);
    const interp = bytes ? shebangInterpreter(bytes) : null;
    if (code === 'EACCES' && !(await executable(file))) {
      return say(`cannot execute "${file}": permission denied (no execute bit, or a directory on its path is not searchable)`);
    }
    if (interp !== null) {
      const crlf = /\r/.test(interp) ? ' (the script has CRLF line endings)' : '';
      if (interp === '') return say(`cannot execute "${file}": empty #! line`);
      if (!(await exists(interp))) return say(`cannot execute "${file}": bad interpreter "${visible(interp)}" in #! line: no such file${crlf}`);
      if (!(await executable(interp))) return say(`cannot execute "${file}": interpreter "${visible(interp)}" in #! line is not executable`);
      if (code === 'ENOEXEC') return say(`cannot execute "${file}": interpreter "${visible(interp)}" in #! line is not a native executable`);
    }
    if (code === 'ENOENT' && !(await exists(cwd))) return say(`cannot execute "${file}": working directory "${cwd}" does not exist`);
    if (code === 'ENOEXEC') {
      return say(`cannot execute "${file}": exec format error (neither a native executable for this machine nor a script starting with #!)`);
    }
    if (code === 'EACCES') return say(`cannot execute "${file}": permission denied (noexec mount or interpreter not executable)`);
  }
  return say(`cannot execute "${file}": ${code}`);
}
