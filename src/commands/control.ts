// `forkfast reload` and `forkfast stop`: signal the serve or pool a pid file names, and wait
// until the reload is done (its new generation serves) or the process has exited.
//
// How `reload` knows: the master keeps a small reload state next to its pid file
// (pool/reload-state.ts) with the number of reloads asked for, done and abandoned. The command
// reads it, sends SIGHUP, and waits until a reload numbered after its reading is done (exit 0)
// or abandoned (exit 1 with the master's reason, e.g. the file and line that no longer import).
import { findTarget, isRunning, cmdlineOf } from './target.js';
import { readReloadState, stateFileOf } from '../pool/reload-state.js';

const POLL_MS = 50;

export async function runControl(name: 'reload' | 'stop', flags: Record<string, unknown>): Promise<number> {
  const pidFile = flags['pid'];
  if (typeof pidFile !== 'string' || pidFile === '') return failed('no pid file given: --pid FILE (the --pid the server was started with) or FORKFAST_PID', 2);
  const seconds = Number(flags['timeout'] ?? 60);
  if (!Number.isFinite(seconds) || seconds <= 0) return failed(`invalid --timeout "${String(flags['timeout'])}"`, 2);
  const deadline = Date.now() + seconds * 1000;
  const target = findTarget(pidFile);
  if (typeof target === 'string') return failed(target, 1);
  if (name === 'stop') return stop(target.pid, flags['fast'] === true ? 'SIGQUIT' : 'SIGTERM', deadline, seconds);
  return reload(target.pid, stateFileOf(pidFile), deadline, seconds);
}

async function reload(pid: number, stateFile: string, deadline: number, seconds: number): Promise<number> {
  const before = await readReloadState(stateFile);
  if (before === null || before.pid !== pid) return failed(`no reload state of process ${pid} at ${stateFile}; not reloading (is it an older forkfast?)`, 1);
  process.kill(pid, 'SIGHUP');
  const argv = cmdlineOf(pid)?.join('\0');
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    // The process exited, or its pid now belongs to another program.
    if (!isRunning(pid) || cmdlineOf(pid)?.join('\0') !== argv) return failed(`process ${pid} exited during the reload`, 1);
    const now = await readReloadState(stateFile);
    if (now === null || now.pid !== pid) continue;
    if (now.completed > before.requested) {
      process.stdout.write(`forkfast: reloaded process ${pid}: generation ${now.generation} serves\n`);
      return 0;
    }
    if (now.failed > before.requested && now.failed >= now.requested) return failed(`reload of process ${pid} failed, the old workers keep serving: ${now.error ?? 'no reason given'}`, 1);
  }
  return failed(`reload of process ${pid} not done after ${seconds} s`, 1);
}

async function stop(pid: number, signal: 'SIGTERM' | 'SIGQUIT', deadline: number, seconds: number): Promise<number> {
  const argv = cmdlineOf(pid)?.join('\0');
  process.kill(pid, signal);
  while (Date.now() < deadline) {
    if (!isRunning(pid) || cmdlineOf(pid)?.join('\0') !== argv) {
      process.stdout.write(`forkfast: process ${pid} stopped\n`);
      return 0;
    }
    await sleep(POLL_MS);
  }
  return failed(`process ${pid} still running after ${seconds} s (${signal} sent)`, 1);
}

function failed(message: string, code: number): number {
  process.stderr.write(`forkfast: ${message}\n`);
  return code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
