// Handler modules: loading a module's default export, and the bridge CGI meta-variables + body <-> Request/Response.
//
// Exports:
//   loadHandler(path)              -> Promise<FetchFunction>  the module's default export, normalised
//   requestFromCgi(env, body)      -> Request                 a standard Request from RFC 3875 meta-variables
//   writeCgiResponse(res, out, o)  -> Promise<void>           a Response written as a CGI response (§6)
//   cgiErrorResponse(status, text) -> string                  a minimal CGI response for runner failures
//   Handler, HandlerModule, FetchFunction, FetchHandler, CgiEnv
//
// Used by app/cgi-main (one request per process under /cgi-bin/) and by the resident FastCGI
// worker (many requests per process under /fcgi-bin/). Deliberately small in imports: every
// /cgi-bin/ module request starts a Node process that loads this file.
import { Readable, type Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

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
export async function loadHandler(path: string): Promise<FetchFunction> {
  const ns = (await import(pathToFileURL(path).href)) as Partial<HandlerModule>;
  const exported = ns.default;
  if (typeof exported === 'function') return exported;
  if (exported !== null && typeof exported === 'object' && typeof exported.fetch === 'function') {
    const target = exported;
    return (request, env) => target.fetch(request, env);
  }
  throw new TypeError(`${path}: the default export must be a function (request, env) or an object with fetch(request, env)`);
}

const NO_BODY_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** HTTP_ACCEPT_LANGUAGE -> accept-language (RFC 3875 §4.1.18, reversed; '_' was '-'). */
function headerName(metaName: string): string {
  return metaName.slice(5).toLowerCase().replaceAll('_', '-');
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
  try {
    return new URL(target, `${scheme}://${host}`).href;
  } catch {
    return new URL(target, `${scheme}://localhost`).href;
  }
}

/**
 * Builds a standard Request from the meta-variables. `body` is the script's stdin (or the FastCGI
 * STDIN stream); it is used only when the request has a body (CONTENT_LENGTH, §4.1.2).
 */
export function requestFromCgi(env: CgiEnv, body: Readable | null): Request {
  const method = env['REQUEST_METHOD'] ?? 'GET';
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
  const hasBody = body !== null && !NO_BODY_METHODS.has(method) && length !== undefined && length !== '' && length !== '0';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (hasBody) {
    init.body = Readable.toWeb(body) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(requestUrl(env), init);
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

/** The CGI header block (RFC 3875 §6.3) of a Response: Status first, then every field. */
export function cgiHead(response: Response): string {
  let head = `Status: ${response.status}${response.statusText ? ' ' + response.statusText : ''}\r\n`;
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    head += `${name}: ${value}\r\n`;
  }
  for (const cookie of response.headers.getSetCookie()) head += `set-cookie: ${cookie}\r\n`;
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

/** A minimal CGI response for when the handler cannot answer (never with details: they go to stderr). */
export function cgiErrorResponse(status: number, text: string): string {
  const body = `${status} ${text}\n`;
  return `Status: ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
