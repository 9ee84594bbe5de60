// Runs one script for one HTTP request and answers it: the steps every gateway mount shares.
//
// Exports: Gateway (serve(req, res, ctx, target)), ScriptRun and ScriptStarter (what a mount
//          plugs in), ClientGone (the abort switch), StartFailed, GatewayTarget.
//
// The story, once: the request body (RFC 3875 §4.1.2; spooled when chunked; never after a local
// redirect, §6.2.2) and its disposal; the meta-variables (cgi/env-http); the start (the mount's
// ScriptStarter: fork a child, or send a FastCGI request); then the answer tail: a small complete
// response in one write, else the CGI response streamed (cgi/answer); a malformed head, a silent
// exit or a timeout answered through the one failure table (gateway/failure) with one log line;
// a body that does not match its Content-Length logged once.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { RequestContext } from '../http/route.js';
import { sendError } from '../errors.js';
import { prepareBody, type PreparedBody } from '../cgi/body.js';
import type { MetaVariables, ScriptTarget } from '../cgi/env.js';
import { requestMetaVariables, type GatewaySettings } from '../cgi/env-http.js';
import { answerCgiBuffer, answerCgiResponse, type AnswerResult } from '../cgi/answer.js';
import { describeFailure, failureFields, type Failure } from './failure.js';

/** A resolved script: what the meta-variables need, and whether it is NPH (RFC 3875 §5). */
export type GatewayTarget = ScriptTarget & { readonly nph: boolean };

/** A script that was started: its CGI response, and how it ended. */
export interface ScriptRun {
  /** The CGI response (RFC 3875 §6): a child's stdout, or the FCGI_STDOUT stream. */
  readonly stdout: Readable;
  /** The whole response when it is small and already complete (one write), else null: stream it. */
  collect(): Buffer | null | Promise<Buffer | null>;
  /** After stdout ended: true when the script ended by itself, false when it was cut off. */
  complete(): Promise<boolean>;
  /**
   * After a malformed head (or no head at all): stops the script and says why it failed, null
   * when the client went away (nothing to answer). `wrote`: whether any byte came.
   */
  failure(malformed: Failure, wrote: boolean): Promise<Failure | null>;
  /** Settles when the script is over (reaped, END_REQUEST, or failed); never rejects. */
  readonly over: Promise<unknown>;
  /** For log lines: the child's pid, when there is one. */
  readonly childPid?: number;
}

/** A start that failed; null failure: the client left first (nothing to answer). */
export class StartFailed extends Error {
  constructor(readonly failure: Failure | null) {
    super(failure?.kind ?? 'aborted');
  }
}

/** Where a mount differs: how a located script is started. Rejects with StartFailed only. */
export interface ScriptStarter<T extends GatewayTarget> {
  start(target: T, env: MetaVariables, body: PreparedBody, gone: ClientGone, ctx: RequestContext): Promise<ScriptRun>;
}

export interface GatewayOptions {
  readonly maxBodySize: number;
  readonly maxHeaderBytes: number;
  readonly spoolDir?: string | undefined;
  readonly settings: GatewaySettings;
}

const NO_BODY: PreparedBody = { ok: true, length: null, stream: null, dispose: async () => {} };
/** Fields the front owns: a script cannot add a second request id. */
const PROTECTED_FIELDS: ReadonlySet<string> = new Set(['x-request-id']);

/**
 * The abort switch of one request: the client went away before the answer was complete. It does
 * the one thing needed, where an AbortController and its EventTarget listeners cost ~2 % of the
 * front's CPU; the spawner and the FastCGI client (ABORT_REQUEST, §5.4) both take it.
 */
export class ClientGone {
  aborted = false;
  private listener: (() => void) | null = null;

  constructor(private readonly res: ServerResponse) {
    res.once('close', this.onClose);
  }

  private readonly onClose = (): void => {
    if (!this.res.writableFinished) this.abort();
  };

  /** Stops watching the client (the script is over, or a local redirect re-dispatches). */
  readonly detach = (): void => {
    this.res.off('close', this.onClose);
  };

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = null;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const l = this.listener;
    this.listener = null;
    l?.();
  }
}

export class Gateway<T extends GatewayTarget> {
  constructor(
    private readonly opts: GatewayOptions,
    private readonly starter: ScriptStarter<T>,
  ) {}

  /** Answers `req` with the script `target`; resolves when the answer is written or abandoned. */
  async serve(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, target: T): Promise<void> {
    // RFC 3875 §6.2.2: after a local redirect the request is a GET without the body. A request
    // without body framing (RFC 9112 §6.3) has none: no await for it.
    const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const body = ctx.redirectDepth === 0 && framed ? await prepareBody(req, { maxBodySize: this.opts.maxBodySize, spoolDir: this.opts.spoolDir }) : NO_BODY;
    if (!body.ok) {
      ctx.log.info({ script: target.scriptName, reason: body.reason, code: body.code }, 'request body refused');
      res.shouldKeepAlive = false;
      sendError(res, body.code, ctx.id, { connection: 'close' });
      return;
    }
    if (body === NO_BODY) return this.run(req, res, ctx, target, body);
    try {
      await this.run(req, res, ctx, target, body);
    } finally {
      // A body the script did not read is read and dropped, as node does for an untouched one:
      // a connection closed with unread bytes is reset (RST) and the client may lose the answer.
      if (body.stream === req && !req.readableEnded) req.resume();
      await body.dispose();
    }
  }

  private async run(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, target: T, body: PreparedBody): Promise<void> {
    const env = requestMetaVariables(req, ctx, target, body.length, this.opts.settings);
    const gone = new ClientGone(res);
    let run: ScriptRun;
    try {
      run = await this.starter.start(target, env, body, gone, ctx);
    } catch (err) {
      gone.detach();
      if (!(err instanceof StartFailed)) throw err;
      if (err.failure !== null && !gone.aborted) answerFailure(res, ctx, target.scriptName, err.failure, undefined);
      return;
    }
    // The lab's trace sees the CGI response as the script wrote it, before the parser (ops/trace).
    if (ctx.trace !== undefined) run = ctx.trace.watch(run);
    // Once the script is over, nothing is left to abort (and redirect chains add no listeners).
    void run.over.then(gone.detach);
    const maxHeaderBytes = this.opts.maxHeaderBytes;
    const collected = target.nph ? null : run.collect();
    const whole = collected instanceof Promise ? await collected : collected;
    let result: AnswerResult;
    if (whole !== null && (await run.complete())) {
      // The whole response is here and the script ended by itself: one write, with a Content-Length.
      const answered = answerCgiBuffer(res, ctx, whole, { maxHeaderBytes, protectedFields: PROTECTED_FIELDS, beforeRedirect: gone.detach });
      result = answered instanceof Promise ? await answered : answered;
    } else {
      // Streamed; or collected from a script we cut off, which must not look complete.
      result = await answerCgiResponse(res, ctx, whole === null ? run.stdout : Readable.from([whole]), {
        maxHeaderBytes,
        nph: target.nph,
        protectedFields: PROTECTED_FIELDS,
        complete: whole === null ? () => run.complete() : notComplete,
        beforeRedirect: gone.detach,
      });
    }
    if (result.kind === 'malformed') {
      const malformed: Failure = result.line === undefined ? { kind: 'malformed', reason: result.reason } : { kind: 'malformed', reason: result.reason, line: result.line };
      const wrote = whole !== null ? whole.length > 0 : true;
      const failure = await run.failure(malformed, wrote);
      gone.abort();
      if (failure !== null) answerFailure(res, ctx, target.scriptName, failure, run.childPid);
    } else if (result.kind === 'written' && result.outcome === 'short' && !res.headersSent) {
      answerFailure(res, ctx, target.scriptName, { kind: 'short-body', contentLength: result.contentLength }, run.childPid);
    } else if (result.kind === 'written' && result.outcome !== 'complete' && result.outcome !== 'no-body' && result.outcome !== 'client-gone') {
      ctx.log.warn({ script: target.scriptName, childPid: run.childPid, outcome: result.outcome, contentLength: result.contentLength }, 'script body did not match its response');
    }
  }
}

const notComplete = (): Promise<boolean> => Promise.resolve(false);

/** The one place a front-side failure becomes a log line and an error answer. */
export function answerFailure(res: ServerResponse, ctx: RequestContext, script: string, failure: Failure, childPid: number | undefined): void {
  const entry = describeFailure(failure);
  ctx.log[entry.level]({ script, childPid, ...failureFields(failure) }, entry.msg);
  sendError(res, entry.code, ctx.id, entry.retryAfter ? { 'retry-after': '1' } : undefined);
}
