// A counting semaphore with a bounded FIFO of waiters: the limit on concurrent children.
import { SpawnError, type AbortSignalLike } from './types.js';

interface Waiter {
  readonly grant: () => void;
  readonly reject: (err: Error) => void;
  readonly onAbort: () => void;
}

export class SlotQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  private head = 0;
  /** Requests that found every slot taken (PHP-FPM's "max children reached"): queued or refused. */
  reachedLimit = 0;
  /** Requests refused because the queue was full too (503). */
  refused = 0;

  constructor(
    private readonly limit: number,
    private readonly queueSize: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiters.length - this.head;
  }

  /**
   * Resolves when a slot is ours. Rejects with EQUEUEFULL when the queue is full (the gateway
   * answers 503 with Retry-After) and with ABORT_ERR when `signal` fires while we wait: the
   * waiter leaves the queue at once, so an abandoned request never takes a slot.
   */
  acquire(signal?: AbortSignalLike): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.running < this.limit && this.queued === 0) {
      this.running++;
      return Promise.resolve();
    }
    this.reachedLimit++;
    if (this.queued >= this.queueSize) {
      this.refused++;
      return Promise.reject(new SpawnError('EQUEUEFULL', `${this.running} children running and ${this.queued} requests waiting: queue full`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', waiter.onAbort);
          reject(err);
        },
        onAbort: () => {
          this.remove(waiter);
          reject(abortError(signal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Gives the slot back: to the oldest waiter if there is one. */
  release(): void {
    const next = this.shift();
    if (next) next.grant();
    else this.running = Math.max(0, this.running - 1);
  }

  /** Rejects every waiter (the spawner is closing). */
  rejectAll(error: () => Error): void {
    for (let w = this.shift(); w; w = this.shift()) w.reject(error());
  }

  private shift(): Waiter | undefined {
    if (this.head >= this.waiters.length) return undefined;
    const w = this.waiters[this.head];
    this.head++;
    // Compact now and then so the array does not grow without bound under steady load.
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
    return w;
  }

  private remove(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter, this.head);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}

export function abortError(signal: AbortSignalLike | undefined): SpawnError {
  const err = new SpawnError('ABORT_ERR', 'aborted while waiting for a child slot');
  Object.defineProperty(err, 'cause', { value: (signal as { reason?: unknown } | undefined)?.reason, enumerable: false });
  return err;
}
