// The mount table's contract: what a route handler receives and how it hands back control.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Trace } from '../ops/trace.js';

export type RouteKind = 'static' | 'cgi' | 'fastcgi' | 'ops';

/**
 * Per-request state. Handlers read the method and target from here, not from `req`, because a
 * CGI local redirect (RFC 3875 §6.2.2) re-dispatches the same connection as a GET to a new path.
 */
export interface RequestContext {
  readonly id: string;
  readonly log: Logger;
  /** REQUEST_METHOD for this dispatch (GET after a local redirect). */
  readonly method: string;
  /** The request-target as received (or as set by a local redirect), path and query, raw. */
  readonly target: string;
  /** The path part of `target`, still percent-encoded. */
  readonly rawPath: string;
  /** The query part of `target` without the `?`, raw; '' when absent. */
  readonly query: string;
  /** How many local redirects led here; the request body belongs only to depth 0. */
  readonly redirectDepth: number;
  /**
   * The dispatch whose script answered with a local redirect to this one (Apache's r->prev), or
   * undefined at depth 0: the source of the REDIRECT_* meta-variables (cgi/env).
   */
  readonly previous?: RequestContext | undefined;
  /**
   * The meta-variables this dispatch handed its script, recorded by cgi/env-http so that a local
   * redirect can pass them on with a REDIRECT_ prefix; undefined when no script ran.
   */
  metaVariables?: Readonly<Record<string, string>> | undefined;
  /** The Variable-NAME values of a FastCGI Authorizer that allowed this dispatch (http/authorizer). */
  authorizerVariables?: Readonly<Record<string, string>> | undefined;
  /** The lab's trace of this request (ops/trace), undefined unless one was asked for: hooks test this field only. */
  readonly trace?: Trace | undefined;
  /** The route kind that took the request, for the access log. */
  kind: RouteKind;
  /** Re-dispatch as a GET to a local path (a CGI local redirect). Rejects past the depth limit. */
  redirect(target: string): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

export interface Mount {
  /** A path prefix that ends with '/', or '' for the fallback (static files). */
  readonly prefix: string;
  readonly kind: RouteKind;
  readonly handle: Handler;
  /** Called on graceful stop, after the listener closed: kill children, close upstreams. */
  close?(): Promise<void>;
}
