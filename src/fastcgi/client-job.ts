// One FastCGI client request from request() to END_REQUEST: its promises, its abort, its state.
//
// Per-request allocations are kept to what the caller uses: the response's `ended` promise and
// its `stdout` stream are built on first access (docs/performance.md), and the caller's
// AbortSignal may be any AbortSignalLike. The job changes its own state only (respond, finish,
// bind); the client alone decides retries, through the two fields marked for it.
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { StdoutHolder } from './client-stdout.js';
import type { AbortSignalLike, FastcgiEnd, FastcgiRequest, FastcgiResponse } from './client-types.js';
import { FastcgiError } from './errors.js';
import type { WireTrace } from './streams.js';

/** The request on the wire, as the job sees it: something it can cancel (§5.4 ABORT_REQUEST). */
export interface SentRequest {
  cancel(err: FastcgiError): void;
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

/** A class, not an object of closures: nothing per request but the instance (docs/performance.md). */
export class ClientJob {
  readonly body: Readable | null;
  readonly authorizer: boolean;
  /** Someone watches this request's records (ops/trace); undefined for every other request. */
  readonly trace: WireTrace | undefined;
  /** STDOUT arrived (or END_REQUEST): request() resolved; a failure now rejects `ended`. */
  responded = false;
  settled = false;
  /** Written by the client only: the one retry a request gets was used. */
  retried = false;
  /** Written by the client only: the retry wants a connection that never served a request. */
  needFresh = false;
  /** Written by the client only: when the job first waited for a refused upstream (0: never). */
  waitingSince = 0;
  private sent: SentRequest | null = null;
  private upstream = '';
  private readonly outcome = new Outcome();
  private readonly stderr: ((chunk: Buffer) => void) | undefined;
  private readonly signal: AbortSignalLike | undefined;
  private readonly onAbort: (() => void) | null;

  constructor(
    req: FastcgiRequest,
    readonly params: Buffer,
    private readonly log: Logger,
    private readonly resolve: (r: FastcgiResponse) => void,
    private readonly reject: (e: FastcgiError) => void,
  ) {
    this.body = req.body;
    this.authorizer = req.role === 'authorizer';
    this.signal = req.signal;
    this.stderr = req.onStderr;
    this.trace = req.trace;
    this.onAbort = this.signal === undefined ? null : () => this.abort();
    if (this.onAbort !== null) this.signal!.addEventListener('abort', this.onAbort, { once: true });
  }

  /** On a connection now (or back in the queue with null). */
  bind(sent: SentRequest | null, upstream: string): void {
    this.sent = sent;
    this.upstream = upstream;
  }

  onStderr(chunk: Buffer): void {
    if (this.stderr !== undefined) this.stderr(chunk);
    else this.log.warn({ upstream: this.upstream, line: chunk.toString('utf8', 0, Math.min(chunk.length, 4096)) }, 'FastCGI upstream stderr');
  }

  private abort(): void {
    const err = new FastcgiError('FCGI_ABORTED', 'FastCGI request aborted by the caller');
    // Sent: ABORT_REQUEST, and the connection finishes us. Queued: the client drops settled jobs.
    if (this.sent !== null) this.sent.cancel(err);
    else this.finish(err, null);
  }

  respond(stdout: StdoutHolder): void {
    if (this.responded || this.settled) return;
    this.responded = true;
    this.resolve(new Response(stdout, this.outcome, this.upstream));
  }

  finish(err: FastcgiError | null, end: FastcgiEnd | null): void {
    if (this.settled) return;
    this.settled = true;
    this.sent = null;
    if (this.onAbort !== null) this.signal!.removeEventListener('abort', this.onAbort);
    if (err !== null && !this.responded) this.reject(err);
    this.outcome.settle(err, end);
  }
}
