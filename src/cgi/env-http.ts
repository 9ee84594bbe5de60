// The meta-variables of one node:http request: the adapter both gateways (CGI and FastCGI) share.
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../http/route.js';
import { buildMetaVariables, type MetaVariables, type ScriptTarget } from './env.js';

/** What a mount fixes once: the same for every request it serves. */
export interface GatewaySettings {
  readonly documentRoot: string;
  readonly serverSoftware: string;
  readonly passAuthorization: boolean;
  /** Operator variables (PATH, --pass-env); the CGI gateway sets them, FastCGI sends none. */
  readonly extra?: Readonly<Record<string, string>>;
}

/** RFC 3875 §4.1 variables from the request as dispatched (method and target from ctx). */
export function requestMetaVariables(req: IncomingMessage, ctx: RequestContext, script: ScriptTarget, contentLength: number | null, settings: GatewaySettings): MetaVariables {
  const socket = req.socket;
  return buildMetaVariables({
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
  });
}
