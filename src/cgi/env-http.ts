// The meta-variables of one node:http request: the adapter both gateways (CGI and FastCGI) share.
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../http/route.js';
import { buildMetaVariables, type MetaVariables, type RedirectInput, type ScriptTarget } from './env.js';

/** What a mount fixes once: the same for every request it serves. */
export interface GatewaySettings {
  readonly documentRoot: string;
  readonly serverSoftware: string;
  readonly passAuthorization: boolean;
  /** Operator variables (PATH, --pass-env); the CGI gateway sets them, FastCGI sends none. */
  readonly extra?: Readonly<Record<string, string>>;
}

/**
 * RFC 3875 §4.1 variables from the request as dispatched (method and target from ctx), plus the
 * REDIRECT_* ones after a local redirect (§6.2.2). They are recorded on ctx.metaVariables: if this
 * script answers with a local redirect, the next dispatch passes them on (cgi/env RedirectInput).
 */
export function requestMetaVariables(req: IncomingMessage, ctx: RequestContext, script: ScriptTarget, contentLength: number | null, settings: GatewaySettings): MetaVariables {
  const socket = req.socket;
  const previous = ctx.previous;
  const env = buildMetaVariables({
    method: ctx.method,
    target: ctx.target,
    query: ctx.query,
    httpVersion: req.httpVersion,
    rawHeaders: req.rawHeaders,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    tls: (socket as { encrypted?: boolean }).encrypted === true,
    script,
    documentRoot: settings.documentRoot,
    serverSoftware: settings.serverSoftware,
    contentLength,
    passAuthorization: settings.passAuthorization,
    ...(settings.extra ? { extra: settings.extra } : {}),
    ...(previous ? { redirect: redirectInput(previous) } : {}),
  });
  // FastCGI 1.0 §6.3: what an Authorizer allowed this request with (serve --authorizer).
  if (ctx.authorizerVariables !== undefined) Object.assign(env, ctx.authorizerVariables);
  ctx.metaVariables = env;
  return env;
}

/** The REDIRECT_* sources from the dispatch that redirected here (Apache's r->prev). */
function redirectInput(prev: RequestContext): RedirectInput {
  return {
    url: decodePath(prev.rawPath),
    query: prev.target.includes('?') ? prev.query : null,
    previous: prev.metaVariables ?? null,
    previousRedirected: prev.previous !== undefined,
  };
}

/** Percent-decoded once, as SCRIPT_NAME and PATH_INFO are; left raw if it is not valid UTF-8 escapes. */
function decodePath(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
