// Which running forkfast a pid file names, checked before any signal is sent to it.
//
// A pid file outlives a crash, and the pid may since belong to anything else: the process must
// be alive and its command line (/proc/PID/cmdline) must be forkfast's serve or pool, else no
// signal is sent. The last check is the one a stale pid file needs: `kill` alone would signal
// whatever process got the number.
import { readFileSync, realpathSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export interface Target {
  readonly pid: number;
  /** serve or pool. */
  readonly command: string;
}

/** The target, or a one-line reason why there is none. */
export function findTarget(pidFile: string): Target | string {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `no pid file ${pidFile} (is the server running, started with --pid ${pidFile}?)` : `cannot read the pid file ${pidFile}: ${code ?? (err as Error).message}`;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return `the pid file ${pidFile} does not hold a pid`;
  if (!isRunning(pid)) return `the pid file ${pidFile} is stale: process ${pid} is not running`;
  const argv = cmdlineOf(pid);
  if (argv === null) return `cannot read the command line of process ${pid}; not signalling it`;
  const command = forkfastCommand(pid, argv);
  if (command === null) return `process ${pid} named by ${pidFile} is not a forkfast serve or pool (${argv.join(' ').slice(0, 120)}); not signalling it`;
  return { pid, command };
}

/** Alive and not a zombie (a zombie still answers kill(pid, 0)). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name in parentheses, which may itself hold spaces or ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function cmdlineOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
}

/**
 * `node [node options] <script> <serve|pool> ...` where the script is the `forkfast` bin link or
 * a cli.js that has forkfast's pool worker beside it.
 */
function forkfastCommand(pid: number, argv: readonly string[]): string | null {
  const at = argv.findIndex((a, i) => i > 0 && !a.startsWith('-'));
  if (at < 0) return null;
  const script = argv[at]!;
  const command = argv[at + 1];
  if (command !== 'serve' && command !== 'pool') return null;
  let real: string;
  try {
    // A relative script path is relative to that process's working directory.
    real = realpathSync(resolve(realpathSync(`/proc/${pid}/cwd`), script));
  } catch {
    return null;
  }
  const isCli = basename(real) === 'cli.js' && existsSync(join(dirname(real), 'pool', 'worker-main.js'));
  return isCli ? command : null;
}
