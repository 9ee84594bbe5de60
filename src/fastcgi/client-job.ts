// A FastCGI client request between request() and END_REQUEST: its promises and its abort wiring.
//
// Per-request allocations are kept to what the caller uses: the response's `ended` promise and
// its `stdout` stream are built on first access (docs/performance.md), and the caller's
// AbortSignal may be any AbortSignalLike.
import type { Readable } from 'node:stream';
import type { FastcgiEnd, Job } from './client-conn.js';
import type { StdoutHolder } from './client-stdout.js';
import type { FastcgiRequest, FastcgiResponse } from './client.js';
import { FastcgiError } from './errors.js';

/** What a job tells the client it belongs to. */
export interface JobOwner {
  logStderr(job: Job, chunk: Buffer): void;
  /** The job settled; `wasQueued`: it never reached a connection. */
  jobSettled(job: Job, wasQueued: boolean): void;
}

function noop(): void {}

/** How the request ended, and the promise handed out for it once somebody asked. */
class Outcome {
  end: FastcgiEnd | null = null;
  err: FastcgiError | null = null;
  settled = false;
  private promise: Promise<FastcgiEnd> | null = null;
  private resolve: (e: FastcgiEnd) => void = noop;
  private reject: (e: FastcgiError) => void = noop;

  get ended(): Promise<FastcgiEnd> {
    if (this.promise === null) {
      if (this.settled) this.promise = this.err !== null ? Promise.reject(this.err) : Promise.resolve(this.end!);
      else {
        this.promise = new Promise<FastcgiEnd>((res, rej) => {
          this.resolve = res;
          this.reject = rej;
        });
      }
      this.promise.catch(noop); // a caller that reads `ended` late must not see an unhandled rejection
    }
    return this.promise;
  }

  settle(err: FastcgiError | null, end: FastcgiEnd | null): void {
    this.settled = true;
    this.err = err;
    this.end = end;
    if (err !== null) this.reject(err);
    else this.resolve(end!);
  }
}

/** What request() resolves with: the body, as a whole or as a stream, and the end. */
class Response implements FastcgiResponse {
  constructor(
    private readonly body: StdoutHolder,
    private readonly outcome: Outcome,
    readonly upstream: string,
  ) {}

  get stdout(): Readable {
    return this.body.stream;
  }

  get ended(): Promise<FastcgiEnd> {
    return this.outcome.ended;
  }

  takeComplete(): Buffer | null {
    return this.body.takeComplete();
  }
}

/** A request's state between request() and END_REQUEST: the promises and the abort wiring. */
export function newJob(
  client: JobOwner,
  req: FastcgiRequest,
  params: Buffer,
  resolve: (r: FastcgiResponse) => void,
  reject: (e: FastcgiError) => void,
): Job {
  const outcome = new Outcome();
  const signal = req.signal;
  const onAbort = (): void => {
    const err = new FastcgiError('FCGI_ABORTED', 'FastCGI request aborted by the caller');
    if (job.exchange !== null) job.exchange.conn.abortExchange(job.exchange, err);
    else job.finish(err, null);
  };
  const job: Job = {
    params,
    body: req.body,
    signal,
    onStderr: req.onStderr ?? ((chunk) => client.logStderr(job, chunk)),
    responded: false,
    settled: false,
    retried: false,
    needFresh: false,
    exchange: null,
    respond(stdout) {
      if (job.responded || job.settled) return;
      job.responded = true;
      resolve(new Response(stdout, outcome, job.exchange?.conn.upstream ?? ''));
    },
    finish(err, end) {
      if (job.settled) return;
      job.settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err !== null && !job.responded) reject(err);
      outcome.settle(err, end);
      client.jobSettled(job, job.exchange === null);
    },
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return job;
}
