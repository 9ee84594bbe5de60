// A FastCGI client request between request() and END_REQUEST: its promises and its abort wiring.
//
// Per-request allocations are kept to what the caller uses: the response's `ended` promise and
// its `stdout` stream are built on first access (docs/performance.md), and the caller's
// AbortSignal may be any AbortSignalLike.
import type { Readable } from 'node:stream';
import type { Exchange, FastcgiEnd, Job } from './client-conn.js';
import type { StdoutHolder } from './client-stdout.js';
import type { AbortSignalLike, FastcgiRequest, FastcgiResponse } from './client.js';
import { FastcgiError } from './errors.js';
import type { Role } from './protocol.js';

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
  return new ClientJob(client, req, params, resolve, reject);
}

/** A class, not an object of closures: nothing per request but the instance (docs/performance.md). */
class ClientJob implements Job {
  readonly body: Readable | null;
  readonly signal: AbortSignalLike | undefined;
  readonly role: Role | undefined;
  responded = false;
  settled = false;
  retried = false;
  needFresh = false;
  exchange: Exchange | null = null;
  private readonly outcome = new Outcome();
  private readonly stderr: ((chunk: Buffer) => void) | undefined;
  private readonly onAbort: (() => void) | null;

  constructor(
    private readonly client: JobOwner,
    req: FastcgiRequest,
    readonly params: Buffer,
    private readonly resolve: (r: FastcgiResponse) => void,
    private readonly reject: (e: FastcgiError) => void,
  ) {
    this.body = req.body;
    this.signal = req.signal;
    this.role = req.role;
    this.stderr = req.onStderr;
    this.onAbort = this.signal === undefined ? null : () => this.abort();
    if (this.onAbort !== null) this.signal!.addEventListener('abort', this.onAbort, { once: true });
  }

  onStderr(chunk: Buffer): void {
    if (this.stderr !== undefined) this.stderr(chunk);
    else this.client.logStderr(this, chunk);
  }

  private abort(): void {
    const err = new FastcgiError('FCGI_ABORTED', 'FastCGI request aborted by the caller');
    if (this.exchange !== null) this.exchange.conn.abortExchange(this.exchange, err);
    else this.finish(err, null);
  }

  respond(stdout: StdoutHolder): void {
    if (this.responded || this.settled) return;
    this.responded = true;
    this.resolve(new Response(stdout, this.outcome, this.exchange?.conn.upstream ?? ''));
  }

  finish(err: FastcgiError | null, end: FastcgiEnd | null): void {
    if (this.settled) return;
    this.settled = true;
    if (this.onAbort !== null) this.signal!.removeEventListener('abort', this.onAbort);
    if (err !== null && !this.responded) this.reject(err);
    this.outcome.settle(err, end);
    this.client.jobSettled(this, this.exchange === null);
  }
}
