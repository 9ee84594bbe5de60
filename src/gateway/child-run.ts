// A forked child as a ScriptRun: what the /cgi-bin/ mount hands the gateway flow.
//
// Exports: childRun(child, handlerModule) -> ScriptRun, spawnFailed(err, aborted) -> StartFailed,
//          exitAfterOutput(child) -> ChildExit | null (the one rule of how long a script may
//          outlive its output, for the front and the pool alike).
import { collectSmall, SMALL_ANSWER } from '../cgi/stdout-collect.js';
import type { ChildExit, SpawnedChild } from '../spawn/types.js';
import { silentExitFailure, type Failure } from './failure.js';
import { StartFailed, type ScriptRun } from './flow.js';

/**
 * How long, after its stdout ended, a script has to exit before its answer is taken as it
 * stands: a script that closed stdout and goes on (`exec 1>&-; exec sleep 600`) does not hold
 * the response; --cgi-timeout still bounds the process itself.
 */
const REAP_WAIT_MS = 200;

/** The child's exit if it comes within REAP_WAIT_MS of the end of its output, else null. */
export function exitAfterOutput(child: SpawnedChild): Promise<ChildExit | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => {
    timer = setTimeout(r, REAP_WAIT_MS, null);
  });
  return Promise.race([child.exited, late]).finally(() => clearTimeout(timer));
}

/** Not cut off by us (timeout, idle timeout, client gone): its output is what it meant to write. */
function endedNormally(e: ChildExit): boolean {
  return e.reason !== 'timeout' && e.reason !== 'idle-timeout' && e.reason !== 'aborted';
}

class ChildRun implements ScriptRun {
  private exit: ChildExit | null = null;
  readonly over: Promise<ChildExit>;
  readonly childPid: number;

  constructor(
    private readonly child: SpawnedChild,
    private readonly handlerModule: boolean,
  ) {
    this.childPid = child.pid;
    this.over = child.exited.then((e) => (this.exit = e));
  }

  get stdout(): SpawnedChild['stdout'] {
    return this.child.stdout;
  }

  collect(): Promise<Buffer | null> {
    return collectSmall(this.child.stdout, SMALL_ANSWER);
  }

  /**
   * After stdout ended: was that the script finishing, or our timeout killing it? A killed
   * script's body must not look complete. Waits for the reap briefly only.
   */
  complete(): Promise<boolean> {
    if (this.exit !== null) return Promise.resolve(endedNormally(this.exit));
    return exitAfterOutput(this.child).then((e) => e === null || endedNormally(e));
  }

  async failure(malformed: Failure, wrote: boolean): Promise<Failure | null> {
    this.child.kill('killed');
    const exit = await this.child.exited;
    if (exit.reason === 'aborted') return null;
    if (exit.reason === 'timeout' || exit.reason === 'idle-timeout') return { kind: 'timeout', reason: exit.reason };
    if (!wrote) return silentExitFailure(exit, this.handlerModule);
    return malformed.kind === 'malformed' ? { ...malformed, exit } : malformed;
  }
}

export function childRun(child: SpawnedChild, handlerModule: boolean): ScriptRun {
  return new ChildRun(child, handlerModule);
}

/** A spawn() rejection as the flow wants it: no answer when the client left first. */
export function spawnFailed(err: unknown, aborted: boolean): StartFailed {
  return new StartFailed(aborted ? null : { kind: 'spawn', err: err instanceof Error ? err : new Error(String(err)) });
}
