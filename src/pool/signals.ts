// The master's wake-up queue: signal handlers and worker events only enqueue; the loop acts.
//
// As in gunicorn's arbiter, a handler never does work itself: it records the signal and wakes
// the loop, so every lifecycle step runs in one place, in order, and never re-enters.

export type PoolSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGTTIN' | 'SIGTTOU';

/** What wakes the loop besides a signal: edited handler modules (watch.ts) ask for a reload. */
export type PoolEvent = PoolSignal | 'EDIT';

export const POOL_SIGNALS: readonly PoolSignal[] = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU'];

/** Past this many pending signals, new ones are dropped (gunicorn: "ignoring rapid signaling"). */
const MAX_PENDING = 5;

export class WakeQueue {
  private readonly pending: PoolEvent[] = [];
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private readonly handlers = new Map<PoolSignal, () => void>();

  /** Installs process signal handlers that only enqueue (the pool master owns these signals). */
  install(signals: readonly PoolSignal[] = POOL_SIGNALS): void {
    for (const sig of signals) {
      const h = (): void => {
        this.push(sig);
      };
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  uninstall(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
  }

  /** Enqueues a signal (from a handler, or from an embedding API such as stop()); false if dropped. */
  push(sig: PoolEvent): boolean {
    // A storm of reloads is one reload: the loop rolls one generation for all that are pending.
    if ((sig === 'SIGHUP' || sig === 'EDIT') && this.pending.includes(sig)) {
      this.wake();
      return true;
    }
    // A stop is never dropped, whatever piled up before it.
    const stop = sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGQUIT';
    if (this.pending.length >= MAX_PENDING && !stop) return false;
    this.pending.push(sig);
    this.wake();
    return true;
  }

  /** Takes every pending signal, oldest first. */
  drain(): PoolEvent[] {
    return this.pending.splice(0, this.pending.length);
  }

  /** Wakes the loop: a worker exited, became ready, asked to retire. */
  wake(): void {
    this.woken = true;
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Resolves on the next wake(), or after `ms` (the loop's tick for deadlines and heartbeats). */
  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = (): void => {
        clearTimeout(timer);
        this.woken = false;
        resolve();
      };
    });
  }
}
