// Answers an HTTP request from a CGI response stream (RFC 3875 §6): the one call both transports make.
//
// Exports: answerCgiResponse(res, ctx, stdout, opts) -> Promise<AnswerResult>
//          answerCgiBuffer(res, ctx, whole, opts)    -> AnswerResult | Promise<AnswerResult>
//
// The CGI mount passes a child's stdout; the FastCGI client passes the STDOUT records' stream
// (FastCGI 1.0 §6.2: a Responder's FCGI_STDOUT is a CGI response). Parse the head, then one of:
// NPH passthrough, local redirect through ctx.redirect() (§6.2.2), or a document / client
// redirect written with backpressure. A malformed head is returned, not answered: only the
// caller knows whether the producer was killed on a timeout (504) or really misbehaved (502).
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { RequestContext } from '../http/route.js';
import { CgiHeadParser, classify, readCgiHead, type MalformedReason } from './response.js';
import { writeDocument, writeDocumentBuffer, writeNph, type BodyOutcome } from './response-writer.js';

export interface AnswerOptions {
  /** Largest header block accepted (bytes); over it the head is malformed. */
  readonly maxHeaderBytes: number;
  /** NPH script (RFC 3875 §5): bytes go to the client as written. */
  readonly nph: boolean;
  /** Fields the front owns (x-request-id): a script cannot set them. */
  readonly protectedFields?: ReadonlySet<string>;
  /** See WriteOptions.complete: false when the producer was cut off (timeout). */
  readonly complete?: () => Promise<boolean>;
  /** Called before a local redirect re-dispatches: stop watching the client for this producer. */
  readonly beforeRedirect?: () => void;
}

export type AnswerResult =
  | { readonly kind: 'nph' }
  | { readonly kind: 'malformed'; readonly reason: MalformedReason; readonly line?: string }
  | { readonly kind: 'local-redirect'; readonly location: string }
  | { readonly kind: 'written'; readonly status: number; readonly outcome: BodyOutcome; readonly contentLength: number | null };

const noop = (): void => {};

export async function answerCgiResponse(res: ServerResponse, ctx: RequestContext, stdout: Readable, opts: AnswerOptions): Promise<AnswerResult> {
  stdout.on('error', noop);
  if (opts.nph) {
    await writeNph(res, stdout);
    return { kind: 'nph' };
  }
  const parsed = await readCgiHead(stdout, opts.maxHeaderBytes);
  if (!parsed.ok) {
    return parsed.line === undefined ? { kind: 'malformed', reason: parsed.reason } : { kind: 'malformed', reason: parsed.reason, line: parsed.line };
  }
  const head = parsed.head;
  if (classify(head) === 'local-redirect') {
    // §6.2.2: no body belongs to a local redirect; drop whatever came so the producer can finish.
    stdout.resume();
    opts.beforeRedirect?.();
    const location = head.location as string;
    // The new dispatch answers; past the depth limit it rejects with FF_REDIRECT_LOOP (500).
    await ctx.redirect(location);
    return { kind: 'local-redirect', location };
  }
  const outcome = await writeDocument(res, head, stdout, {
    head: ctx.method === 'HEAD',
    ...(opts.protectedFields ? { protectedFields: opts.protectedFields } : {}),
    ...(opts.complete ? { complete: opts.complete } : {}),
  });
  return { kind: 'written', status: res.statusCode, outcome, contentLength: head.contentLength };
}

/**
 * The same answer from a CGI response that is already complete in memory (not NPH): parsed and
 * written synchronously; only a local redirect returns a promise (the new dispatch).
 */
export function answerCgiBuffer(
  res: ServerResponse,
  ctx: RequestContext,
  whole: Buffer,
  opts: Pick<AnswerOptions, 'maxHeaderBytes' | 'protectedFields' | 'beforeRedirect'>,
): AnswerResult | Promise<AnswerResult> {
  const parser = new CgiHeadParser(opts.maxHeaderBytes);
  const parsed = parser.push(whole) ? (parser.result as NonNullable<CgiHeadParser['result']>) : parser.end();
  if (!parsed.ok) {
    return parsed.line === undefined ? { kind: 'malformed', reason: parsed.reason } : { kind: 'malformed', reason: parsed.reason, line: parsed.line };
  }
  const head = parsed.head;
  if (classify(head) === 'local-redirect') {
    opts.beforeRedirect?.();
    const location = head.location as string;
    return ctx.redirect(location).then(() => ({ kind: 'local-redirect', location }));
  }
  const outcome = writeDocumentBuffer(res, head, parser.rest, {
    head: ctx.method === 'HEAD',
    ...(opts.protectedFields ? { protectedFields: opts.protectedFields } : {}),
  });
  return { kind: 'written', status: res.statusCode, outcome, contentLength: head.contentLength };
}
