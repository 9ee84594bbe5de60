// Pool side of the FastCGI Authorizer role (FastCGI 1.0 §6.3): a handler module's authorize().
//
// The web server (lighttpd's mod_fastcgi in "authorizer" mode, forkfast serve --authorizer) sends
// the request's meta-variables, never its body, and reads the answer as a CGI response: status
// 200 lets the request through, and each "Variable-NAME: value" header becomes the meta-variable
// NAME of the request that follows; any other status (with its headers and body) is the answer
// the client gets. A program answers the same way when it sees FCGI_ROLE=AUTHORIZER.
import { pathToFileURL } from 'node:url';
import type { CgiEnv, CgiSink, FetchFunction } from '../app/handler.js';

type Authorize = (request: Request, env: CgiEnv) => Response | Promise<Response>;

/** The environment variable a program is started with for an Authorizer request (as libfcgi sets it). */
export const FCGI_ROLE_AUTHORIZER = { FCGI_ROLE: 'AUTHORIZER' } as const;

/**
 * A module's authorize(request, env): a named export, or a method of the default export object
 * (beside fetch). A module without one cannot answer Authorizer requests: a readable error.
 */
export async function loadAuthorizer(path: string, version?: string): Promise<FetchFunction> {
  // A new `version` is a new URL, as for loadHandler: a failed import is cached by URL.
  const ns = (await import(pathToFileURL(path).href + (version === undefined ? '' : `?v=${encodeURIComponent(version)}`))) as { authorize?: unknown; default?: unknown };
  if (typeof ns.authorize === 'function') return ns.authorize as Authorize;
  const d = ns.default as { authorize?: unknown } | null | undefined;
  if (d !== null && typeof d === 'object' && typeof d.authorize === 'function') {
    const target = d as { authorize: Authorize };
    return (request, env) => target.authorize(request, env);
  }
  throw new TypeError(`${path}: no authorize(request, env) export, so it cannot answer FastCGI Authorizer requests`);
}

/**
 * "variable-user" (a Headers object keeps names in lower case) as "Variable-USER": web servers
 * match the prefix without regard to case but take NAME as written, and meta-variable names are
 * upper case by convention (RFC 3875 §4.1).
 */
export function authorizerFieldName(name: string): string {
  return name.startsWith('variable-') ? 'Variable-' + name.slice(9).toUpperCase() : name;
}

/** The answer as a CGI response, in one write (an authorizer's body is a short refusal, if any). */
export async function sendAuthorizerResponse(response: Response, sink: CgiSink, opts: { head?: boolean } = {}): Promise<void> {
  let head = `Status: ${response.status}${response.statusText ? ' ' + response.statusText : ''}\r\n`;
  for (const [name, value] of response.headers) head += `${authorizerFieldName(name)}: ${value}\r\n`;
  const body = opts.head === true || response.body === null ? null : Buffer.from(await response.arrayBuffer());
  if (body === null || body.length === 0) return sink.endWith(head + '\r\n');
  sink.endWith(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]));
}
