// RFC 3875 §4.1 meta-variables for one request: a pure function shared by CGI (child env) and FastCGI (PARAMS).
//
// Exports:
//   buildMetaVariables(input) -> MetaVariables   (a null-prototype object, name -> value)
//   checkExecLimits(vars)     -> null | reason    (values the kernel would refuse at execve)
//   MetaInput, ScriptTarget, RedirectInput        (what the builder needs, no node:http types)
//
// The builder takes plain data (request line parts, req.rawHeaders, socket addresses, the script
// resolution, config) so that the FastCGI client can call it with the same inputs and turn the
// result into name-value pairs. No regex, no closure per header: this runs on every request.
import { resolve, sep } from 'node:path';
import { headerVariable } from './env-rule.js';

export type MetaVariables = Record<string, string>;

/** What the script resolution (cgi/script) found: the CGI view of it. */
export interface ScriptTarget {
  /** SCRIPT_NAME: the mount plus the script's path, decoded (RFC 3875 §4.1.13). */
  readonly scriptName: string;
  /** PATH_INFO: the rest of the path after the script, decoded once; '' when absent (§4.1.5). */
  readonly pathInfo: string;
  /** SCRIPT_FILENAME: the script's real path on disk (common extension). */
  readonly filename: string;
}

export interface MetaInput {
  /** REQUEST_METHOD for this dispatch (GET after a local redirect). */
  readonly method: string;
  /** REQUEST_URI: the request-target, raw (path and query). */
  readonly target: string;
  /** QUERY_STRING: raw, without '?', '' when absent (§4.1.7). */
  readonly query: string;
  /** '1.1' or '1.0', as node:http's req.httpVersion. */
  readonly httpVersion: string;
  /** req.rawHeaders: name, value, name, value... in arrival order. */
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: boolean;
  readonly script: ScriptTarget;
  /** DOCUMENT_ROOT, the public directory (absolute). */
  readonly documentRoot: string;
  readonly serverSoftware: string;
  /** Exact body length when the request carries a body (after de-chunking), else null. */
  readonly contentLength: number | null;
  /** Pass HTTP_AUTHORIZATION to the script (off by default: it carries the password). */
  readonly passAuthorization: boolean;
  /** REDIRECT_STATUS for php-cgi's force-cgi-redirect check; default 200. */
  readonly redirectStatus?: number;
  /** Set when a local redirect (RFC 3875 §6.2.2) led here: the REDIRECT_* variables. */
  readonly redirect?: RedirectInput;
  /** Operator variables (PATH, passEnv); meta-variables win over them. */
  readonly extra?: Readonly<Record<string, string>>;
}

/**
 * What Apache passes to the target of an internal redirect, which is what scripts written for
 * mod_cgi / mod_rewrite read (httpd docs "Custom Error Responses" and "Environment Variables",
 * section "REDIRECT_ variables"; in the code: server/util_script.c ap_add_common_vars and
 * modules/http/http_request.c rename_original_env):
 * - every variable the redirecting request's script saw, renamed with a REDIRECT_ prefix
 *   (HTTP_USER_AGENT -> REDIRECT_HTTP_USER_AGENT, REQUEST_METHOD -> REDIRECT_REQUEST_METHOD,
 *   CONTENT_LENGTH, SCRIPT_NAME, PATH...);
 * - REDIRECT_STATUS, the status of the response that redirected: 200 for a CGI local redirect;
 * - REDIRECT_URL, that request's URL path, decoded (Apache's r->prev->uri);
 * - REDIRECT_QUERY_STRING, its query string: the docs promise at least REDIRECT_URL and
 *   REDIRECT_QUERY_STRING, so it is '' when that request had no query (their example shows it empty).
 * The redirecting request's own REDIRECT_* variables are renamed too, so in a chain
 * REDIRECT_URL names the previous hop and REDIRECT_REDIRECT_URL the one before, back to the
 * client's request (at most MAX_REDIRECT_DEPTH prefixes). Only one variable is left out: the
 * REDIRECT_STATUS=200 we set on every request for php-cgi (see buildMetaVariables) records no
 * redirect, and Apache has none there to rename into REDIRECT_REDIRECT_STATUS.
 * Every name built here starts with REDIRECT_ and is made by the server: a client can only
 * reach HTTP_* names (§4.1.18), so its headers become REDIRECT_HTTP_* at most, never REDIRECT_URL.
 */
export interface RedirectInput {
  /** REDIRECT_URL: the redirecting request's path, decoded once like SCRIPT_NAME and PATH_INFO. */
  readonly url: string;
  /** Its raw query without '?', or null when its target had none (Apache's r->prev->args). */
  readonly query: string | null;
  /** The meta-variables its script saw; null when none were recorded. */
  readonly previous: Readonly<Record<string, string>> | null;
  /** True when that request was itself the target of a local redirect. */
  readonly previousRedirected: boolean;
}

/** Kernel limits of execve(2) on Linux: MAX_ARG_STRLEN is 32 pages per string. */
const MAX_ENV_STRING = 32 * 4096 - 1;
/** A conservative total: ARG_MAX is a quarter of the stack limit (2 MiB at the default 8 MiB). */
const MAX_ENV_TOTAL = 1024 * 1024;

/** True when every character is a letter, digit or '-': anything else could alias another name. */
function isPlainHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** Splits a Host header into SERVER_NAME and port, keeping IPv6 brackets (RFC 3875 §4.1.14). */
export function splitHost(host: string): { name: string; port: string | null } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return { name: host, port: null };
    const rest = host.slice(end + 1);
    return { name: host.slice(0, end + 1), port: rest.startsWith(':') && rest.length > 1 ? rest.slice(1) : null };
  }
  const colon = host.lastIndexOf(':');
  if (colon < 0) return { name: host, port: null };
  return { name: host.slice(0, colon), port: colon + 1 < host.length ? host.slice(colon + 1) : null };
}

/** '::ffff:127.0.0.1' -> '127.0.0.1': scripts compare REMOTE_ADDR with dotted IPv4. */
function plainAddress(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** SERVER_NAME fallback when there is no Host: the local address, bracketed when IPv6. */
function addressAsName(addr: string): string {
  const a = plainAddress(addr);
  return a.includes(':') ? `[${a}]` : a;
}

/** RFC 7617 Basic credentials -> the user id, or null when absent or not Basic. */
function basicUser(authorization: string): string | null {
  if (authorization.length < 6 || authorization.slice(0, 6).toLowerCase() !== 'basic ') return null;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(0, colon);
}

/**
 * PATH_TRANSLATED (RFC 3875 §4.1.6): PATH_INFO mapped under the document root, only when
 * PATH_INFO is set, and never a path outside the root (then it is left out).
 */
export function translatePath(documentRoot: string, pathInfo: string): string | null {
  if (pathInfo === '') return null;
  const root = resolve(documentRoot);
  const full = resolve(root, '.' + pathInfo);
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  // Keep a trailing slash: PATH_INFO '/dir/' names a directory.
  return pathInfo.endsWith('/') && !full.endsWith(sep) ? full + sep : full;
}

/** Builds every meta-variable of RFC 3875 §4.1 plus the common extensions, for one request. */
export function buildMetaVariables(input: MetaInput): MetaVariables {
  // No prototype, so no header can reach Object.prototype's names; made by setPrototypeOf on a
  // literal rather than Object.create(null), which V8 makes a dictionary: Object.keys and every
  // lookup in the FastCGI encoder were ~3x slower on one (docs/performance.md, session 3).
  const env = Object.setPrototypeOf({}, null) as MetaVariables;

  // §4.1.18 protocol-specific variables: HTTP_*, repeated headers joined (RFC 9110 §5.3),
  // Cookie with '; ' (RFC 6265 §5.4).
  let host: string | null = null;
  let authorization: string | null = null;
  let contentType: string | null = null;
  const raw = input.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (!isPlainHeaderName(name)) continue;
    const lower = name.toLowerCase();
    if (lower === 'host') host ??= value;
    else if (lower === 'content-type') contentType ??= value;
    else if (lower === 'authorization') {
      authorization ??= value;
      if (!input.passAuthorization) continue;
    }
    // The one rule (cgi/env-rule): no HTTP_PROXY, no second CONTENT_LENGTH/CONTENT_TYPE (§4.1.18).
    const key = headerVariable(lower);
    if (key === '') continue;
    const prev = env[key];
    env[key] = prev === undefined ? value : prev + (lower === 'cookie' ? '; ' : ', ') + value;
  }

  const user = authorization === null ? null : basicUser(authorization);
  if (user !== null) {
    env['AUTH_TYPE'] = 'Basic'; // §4.1.1
    env['REMOTE_USER'] = user; // §4.1.11
  }
  if (input.contentLength !== null) {
    env['CONTENT_LENGTH'] = String(input.contentLength); // §4.1.2: only with a body
    if (contentType !== null) env['CONTENT_TYPE'] = contentType; // §4.1.3
  }
  env['GATEWAY_INTERFACE'] = 'CGI/1.1'; // §4.1.4
  env['PATH_INFO'] = input.script.pathInfo; // §4.1.5
  const translated = translatePath(input.documentRoot, input.script.pathInfo);
  if (translated !== null) env['PATH_TRANSLATED'] = translated; // §4.1.6
  env['QUERY_STRING'] = input.query; // §4.1.7
  const remote = plainAddress(input.remoteAddress);
  env['REMOTE_ADDR'] = remote; // §4.1.8
  env['REMOTE_HOST'] = remote; // §4.1.9: the address, no DNS lookup
  env['REQUEST_METHOD'] = input.method; // §4.1.12
  env['SCRIPT_NAME'] = input.script.scriptName; // §4.1.13
  const split = host === null ? null : splitHost(host);
  env['SERVER_NAME'] = split && split.name !== '' ? split.name : addressAsName(input.localAddress); // §4.1.14
  env['SERVER_PORT'] = split?.port ?? String(input.localPort); // §4.1.15
  env['SERVER_PROTOCOL'] = 'HTTP/' + input.httpVersion; // §4.1.16
  env['SERVER_SOFTWARE'] = input.serverSoftware; // §4.1.17

  // Common extensions (Apache, nginx fastcgi_params): scripts and PHP expect them.
  env['REQUEST_URI'] = input.target;
  env['SCRIPT_FILENAME'] = input.script.filename;
  env['DOCUMENT_ROOT'] = input.documentRoot;
  env['REMOTE_PORT'] = String(input.remotePort);
  env['SERVER_ADDR'] = plainAddress(input.localAddress);
  env['REQUEST_SCHEME'] = input.tls ? 'https' : 'http';
  if (input.tls) env['HTTPS'] = 'on';
  // Not RFC 3875: php-cgi's cgi.force_redirect refuses to run without it, so, as nginx's
  // fastcgi_params does, every request carries it; after a local redirect it is Apache's record
  // of the redirecting response's status (200), the same value.
  env['REDIRECT_STATUS'] = String(input.redirectStatus ?? 200);
  if (input.redirect) addRedirectVariables(env, input.redirect);
  if (input.extra) {
    for (const k of Object.keys(input.extra)) if (env[k] === undefined) env[k] = input.extra[k] as string;
  }
  return env;
}

/** The REDIRECT_* variables of a redirected request (see RedirectInput); after the request's own. */
function addRedirectVariables(env: MetaVariables, r: RedirectInput): void {
  const prev = r.previous;
  if (prev !== null) {
    for (const k of Object.keys(prev)) {
      if (k === 'REDIRECT_STATUS' && !r.previousRedirected) continue;
      env['REDIRECT_' + k] = prev[k] as string;
    }
  }
  env['REDIRECT_URL'] = r.url;
  if (r.query !== null) env['REDIRECT_QUERY_STRING'] = r.query;
  else env['REDIRECT_QUERY_STRING'] ??= '';
}

/**
 * Checks the variables against execve(2)'s limits (E2BIG would fail the spawn): returns the
 * offending variable name, or null when they fit. The caller answers 431.
 */
export function checkExecLimits(vars: MetaVariables): string | null {
  let total = 0;
  for (const k of Object.keys(vars)) {
    const size = k.length + 1 + Buffer.byteLength(vars[k] as string) + 1;
    if (size > MAX_ENV_STRING) return k;
    total += size + 8; // the envp pointer
    if (total > MAX_ENV_TOTAL) return k;
  }
  return null;
}
