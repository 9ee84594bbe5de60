// Handler modules: loading a module's default export, and the bridge CGI meta-variables + body <-> Request/Response.
//
// Exports:
//   loadHandler(path)              -> Promise<FetchFunction>  the module's default export, normalised
//   requestFromCgi(env, body)      -> Request                 a standard Request from RFC 3875 meta-variables
//   writeCgiResponse(res, out, o)  -> Promise<void>           a Response written as a CGI response (§6)
//   sendCgiResponse(res, sink, o)  -> Promise<void>           the same, whole in one piece when the body allows
//   cgiErrorResponse(status, text) -> string                  a minimal CGI response for runner failures
//   Handler, HandlerModule, FetchFunction, FetchHandler, CgiEnv
//
// Used by app/cgi-main (one request per process under /cgi-bin/) and by the resident FastCGI
// worker (many requests per process under /fcgi-bin/). Deliberately small in imports: every
// /cgi-bin/ module request starts a Node process that loads this file.
import { Readable, type Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { lightParts, type LightParts } from './light-response.js';

/** The CGI meta-variables the handler sees as `env` (RFC 3875 §4.1 names). */
export type CgiEnv = Readonly<Record<string, string | undefined>>;

export type FetchFunction = (request: Request, env: CgiEnv) => Response | Promise<Response>;

export interface FetchHandler {
  fetch: FetchFunction;
}

/** What a handler module exports as default: `{ fetch(request, env) }` or `async (request, env) => Response`. */
export type Handler = FetchHandler | FetchFunction;

/** The shape of a handler module's namespace. */
export interface HandlerModule {
  default: Handler;
}

/** Imports a handler module and returns its fetch function; throws a readable error otherwise. */
export async function loadHandler(path: string, version?: string): Promise<FetchFunction> {
  // A new `version` is a new URL: the ESM loader caches a failed import by URL, forever.
  const url = pathToFileURL(path).href + (version === undefined ? '' : `?v=${encodeURIComponent(version)}`);
  const ns = (await import(url)) as Partial<HandlerModule>;
  const exported = ns.default;
  if (typeof exported === 'function') return exported;
  if (exported !== null && typeof exported === 'object' && typeof exported.fetch === 'function') {
    const target = exported;
    return (request, env) => target.fetch(request, env);
  }
  throw new TypeError(`${path}: the default export must be a function (request, env) or an object with fetch(request, env)`);
}

const NO_BODY_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Memo of HTTP_* name -> header name; bounded so hostile clients cannot grow it. */
const headerNames = new Map<string, string>();

/** HTTP_ACCEPT_LANGUAGE -> accept-language (RFC 3875 §4.1.18, reversed; '_' was '-'). */
function headerName(metaName: string): string {
  let name = headerNames.get(metaName);
  if (name === undefined) {
    name = metaName.slice(5).toLowerCase().replaceAll('_', '-');
    if (headerNames.size < 512) headerNames.set(metaName, name);
  }
  return name;
}

/** The absolute URL of the request, from Host (or SERVER_NAME/PORT) and REQUEST_URI. */
function requestUrl(env: CgiEnv): string {
  const scheme = env['REQUEST_SCHEME'] ?? (env['HTTPS'] === 'on' ? 'https' : 'http');
  let host = env['HTTP_HOST'];
  if (host === undefined || host === '') {
    const port = env['SERVER_PORT'];
    const dflt = scheme === 'https' ? '443' : '80';
    host = (env['SERVER_NAME'] ?? 'localhost') + (port && port !== dflt ? ':' + port : '');
  }
  const query = env['QUERY_STRING'] ?? '';
  const target = env['REQUEST_URI'] ?? (env['SCRIPT_NAME'] ?? '') + (env['PATH_INFO'] ?? '') + (query === '' ? '' : '?' + query);
  // An origin-form target ('/path?q', also '//x/y') is a path on the Host (RFC 9112 §3.2.1):
  // never resolved as a reference, or '//evil/x' would name another host. A Host that could
  // change the URL's meaning is not used.
  if (target.charCodeAt(0) === 0x2f) return `${scheme}://${isPlainHost(host) ? host : 'localhost'}${target}`;
  try {
    return new URL(target, `${scheme}://${host}`).href;
  } catch {
    return new URL(target, `${scheme}://localhost`).href;
  }
}

/** A Host value that cannot change the meaning of the URL it is put in: letters, digits, '.', '-', ':', '[', ']'. */
function isPlainHost(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x3a) || c === 0x2e || c === 0x2d || c === 0x5b || c === 0x5d;
    if (!ok) return false;
  }
  return host.length > 0;
}

/** The request's fields from the meta-variables (RFC 3875 §4.1.18: HTTP_* back to header names). */
export function headersFromCgi(env: CgiEnv): Headers {
  const headers = new Headers();
  for (const name of Object.keys(env)) {
    if (!name.startsWith('HTTP_')) continue;
    const value = env[name];
    if (value !== undefined) {
      try {
        headers.append(headerName(name), value);
      } catch {
        // A value Headers refuses cannot have come from a valid request: skip it.
      }
    }
  }
  const contentType = env['CONTENT_TYPE'];
  if (contentType !== undefined && contentType !== '') headers.set('content-type', contentType);
  const length = env['CONTENT_LENGTH'];
  if (length !== undefined && length !== '') headers.set('content-length', length);
  return headers;
}

/** The request URL as Request would have it (parsed and serialised), or null for the odd ones. */
export function requestHref(env: CgiEnv): string | null {
  try {
    const url = new URL(requestUrl(env));
    return url.username === '' && url.password === '' ? url.href : null;
  } catch {
    return null;
  }
}

/** Whether a CONTENT_LENGTH value announces a body (§4.1.2: unset without one; nginx sends ''). */
/** Methods Request refuses (Fetch: forbidden methods); a handler cannot be called with them. */
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'TRACE', 'TRACK']);

export function isForbiddenMethod(method: string): boolean {
  return FORBIDDEN_METHODS.has(method.toUpperCase());
}

export function declaresBody(length: string | undefined): boolean {
  return length !== undefined && length !== '' && length !== '0';
}

/** Whether the request has a body to read (§4.1.2 CONTENT_LENGTH; never for GET and HEAD). */
export function hasRequestBody(env: CgiEnv): boolean {
  if (!declaresBody(env['CONTENT_LENGTH'])) return false;
  // Request upper-cases GET and HEAD whatever their case, and refuses them a body.
  return !NO_BODY_METHODS.has((env['REQUEST_METHOD'] ?? 'GET').toUpperCase());
}

/**
 * Builds a standard Request from the meta-variables. `body` is the script's stdin (or the FastCGI
 * STDIN stream); it is used only when the request has a body (CONTENT_LENGTH, §4.1.2).
 * `headers`, when given, are the request's fields already built (the light Request's).
 */
export function requestFromCgi(env: CgiEnv, body: Readable | null, headers: Headers = headersFromCgi(env)): Request {
  const method = env['REQUEST_METHOD'] ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (body !== null && hasRequestBody(env)) {
    init.body = Readable.toWeb(body) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  const url = requestUrl(env);
  try {
    return new Request(url, init);
  } catch (err) {
    // A target the fast URL path let through but Request refuses: normalise it as URL() would.
    const fixed = new URL(url.slice(url.indexOf('/', url.indexOf('//') + 2)), url.slice(0, url.indexOf('/', url.indexOf('//') + 2))).href;
    if (fixed === url) throw err;
    return new Request(fixed, init);
  }
}

export interface CgiWriteOptions {
  /** A HEAD request: write the header block only. */
  readonly head?: boolean;
}

/** Writes `chunk` and waits for 'drain' when the destination is full (backpressure). */
function write(out: Writable, chunk: Uint8Array | string): Promise<void> | null {
  if (out.write(chunk)) return null;
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      out.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      out.off('drain', onDrain);
      reject(err);
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}

/**
 * The CGI header block (RFC 3875 §6.3) of a Response: Status first, then every field. With
 * `length` (a body read whole), a Content-Length is added unless the handler set one.
 */
export function cgiHead(response: Response, length: number | null = null): string {
  return cgiHeadOf(response.status, response.statusText, response.headers, length);
}

function cgiHeadOf(status: number, statusText: string, headers: Headers, length: number | null): string {
  let head = `Status: ${status}${statusText ? ' ' + statusText : ''}\r\n`;
  let hasLength = false;
  let hasCookie = false;
  for (const [name, value] of headers) {
    if (name === 'set-cookie') {
      hasCookie = true;
      continue;
    }
    if (name === 'content-length') hasLength = true;
    head += `${name}: ${value}\r\n`;
  }
  if (length !== null && !hasLength) head += `content-length: ${length}\r\n`;
  if (hasCookie) for (const cookie of headers.getSetCookie()) head += `set-cookie: ${cookie}\r\n`;
  return head + '\r\n';
}

/** Writes a Response as a CGI response: header block, then the body streamed with backpressure. */
export async function writeCgiResponse(response: Response, out: Writable, opts: CgiWriteOptions = {}): Promise<void> {
  const head = cgiHead(response);
  if (opts.head || response.body === null) {
    await write(out, head);
    if (response.body !== null) await response.body.cancel();
    return;
  }
  await write(out, head);
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const pending = write(out, chunk);
    if (pending) await pending;
  }
}

/** Where sendCgiResponse writes: the whole response at once, or a stream for a body that keeps coming. */
export interface CgiSink {
  /** Takes the rest of the response (the whole of it, if nothing was streamed) and ends it. */
  endWith(data: string | Uint8Array): void;
  /** The stream for bodies that are not complete at once; asked for at most once. */
  readonly stdout: Writable;
}

const WAIT = Symbol('wait');

/**
 * A promise that resolves after the current run of microtasks. Not process.nextTick: from code
 * that is not itself a promise job (a synchronous handler called from an I/O callback), the
 * next-tick queue runs before the microtasks, and a complete body would always look unfinished.
 */
function afterMicrotasks(): Promise<typeof WAIT> {
  return new Promise((resolve) => setImmediate(resolve, WAIT));
}

/**
 * writeCgiResponse for a sink that can take a whole response: a body that is complete within the
 * current run of microtasks (`new Response(string | bytes)`, the common case) goes out with its
 * head and a Content-Length in one piece (one FastCGI write, no Writable, no async iteration);
 * any other body streams as soon as it is not, so a slow stream (server-sent events) is never
 * held back. A stream error rejects, as in writeCgiResponse.
 */
export async function sendCgiResponse(response: Response, sink: CgiSink, opts: CgiWriteOptions = {}): Promise<void> {
  const light = lightParts(response);
  if (light !== null) return sendLight(light, sink, opts);
  const body = response.body;
  if (opts.head || body === null) {
    sink.endWith(cgiHead(response));
    if (body !== null) await body.cancel();
    return;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = reader.read();
    const got = await Promise.race([next, afterMicrotasks()]);
    if (got === WAIT) {
      // The body keeps coming: what we have goes out now, the rest streams with backpressure
      // (through the same reader: the read already asked for must not be lost).
      const out = sink.stdout;
      await write(out, cgiHead(response));
      for (const c of chunks) await write(out, c);
      for (let r = await next; !r.done; r = await reader.read()) await write(out, r.value);
      sink.endWith('');
      return;
    }
    if (got.done) break;
    chunks.push(got.value);
    size += got.value.length;
  }
  const head = cgiHead(response, size);
  const whole = Buffer.allocUnsafe(head.length + size);
  let at = whole.write(head, 0, 'latin1');
  for (const c of chunks) {
    whole.set(c, at);
    at += c.length;
  }
  sink.endWith(whole);
}

/** A light Response (light-response.ts): head and body in one buffer, no stream at all. */
function sendLight(parts: LightParts, sink: CgiSink, opts: CgiWriteOptions): void {
  const body = parts.body;
  const size = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  // A HEAD answer still says how long the body is, as the GET would.
  const head = cgiHeadOf(parts.status, parts.statusText, parts.headers, body === null ? null : size);
  if (opts.head || body === null) return sink.endWith(head);
  const whole = Buffer.allocUnsafe(head.length + size);
  const at = whole.write(head, 0, 'latin1');
  if (typeof body === 'string') whole.write(body, at, 'utf8');
  else whole.set(body, at);
  sink.endWith(whole);
}

/** A minimal CGI response for when the handler cannot answer (never with details: they go to stderr). */
export function cgiErrorResponse(status: number, text: string): string {
  const body = `${status} ${text}\n`;
  return `Status: ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
