// A Request that is built only when a handler needs more than its method, URL and headers.
//
// Exports:
//   lightRequestFromCgi(env, body) -> Request   what resident handlers get as `request`
//   installLightRequest()                       Request and fetch in this process accept light requests
//
// Why: on Node 20 a platform Request costs ~5 µs (an AbortSignal, webidl conversions, a second
// Headers copy), a fifth of a resident worker's time per request, and most handlers only read
// `request.method`, `request.url` and a header or two (docs/performance.md). Those three are
// answered here from the CGI meta-variables; every other member (body, signal, text(),
// clone()...) builds the platform Request once, exactly as requestFromCgi() would, and asks it.
// The same idea as @hono/node-server's lightweight Request.
//
// `instanceof Request` holds. The platform's own code does not know light requests (it reads
// internal slots), so installLightRequest() gives `new Request(light)` and `fetch(light)` the
// platform object instead: a handler that proxies its request works unchanged.
import type { Readable } from 'node:stream';
import { headersFromCgi, isForbiddenMethod, requestFromCgi, requestHref, type CgiEnv } from './handler.js';
import { delegateMissing, syncHeaders } from './lazy-delegate.js';

const StandardRequest: typeof Request = globalThis.Request;
const standardFetch: typeof fetch = globalThis.fetch;

/** Methods the Fetch standard upper-cases (§"normalize a method"); others stay as sent. */
const NORMALIZED_METHODS: ReadonlyMap<string, string> = new Map(
  ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].map((m) => [m.toLowerCase(), m]),
);

export class LightRequest {
  readonly #env: CgiEnv;
  readonly #body: Readable | null;
  #headers: Headers | null = null;
  #url: string | null = null;
  #real: Request | null = null;

  constructor(env: CgiEnv, body: Readable | null) {
    this.#env = env;
    this.#body = body;
  }

  get method(): string {
    const m = this.#env['REQUEST_METHOD'] ?? 'GET';
    return NORMALIZED_METHODS.get(m.toLowerCase()) ?? m;
  }

  get url(): string {
    if (this.#url === null) this.#url = requestHref(this.#env) ?? LightRequest.realOf(this).url;
    return this.#url;
  }

  /** The same Headers object for the request's whole life, also after the platform one is built. */
  get headers(): Headers {
    if (this.#headers === null) this.#headers = headersFromCgi(this.#env);
    return this.#headers;
  }

  /**
   * The platform Request, built on first need from the meta-variables; its headers follow ours
   * (a field a handler sets later still reaches clone(), new Request(request) and fetch(request)).
   */
  static realOf(r: LightRequest): Request {
    if (r.#real === null) r.#real = requestFromCgi(r.#env, r.#body, r.headers);
    else if (r.#headers !== null) syncHeaders(r.#real.headers, r.#headers);
    return r.#real;
  }

  /** `light` itself when it is not a light request. */
  static unwrap<T>(value: T): T | Request {
    return typeof value === 'object' && value !== null && #env in value ? LightRequest.realOf(value as LightRequest) : value;
  }
}

Object.setPrototypeOf(LightRequest.prototype, StandardRequest.prototype);
delegateMissing(LightRequest.prototype, StandardRequest.prototype, (self) => LightRequest.realOf(self as LightRequest));

/** A token (RFC 9110 §5.6.2): the only methods Request takes. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The Request a resident handler gets under --fetch-objects light (after installLightRequest()). */
export function lightRequestFromCgi(env: CgiEnv, body: Readable | null): Request {
  const method = env['REQUEST_METHOD'] ?? 'GET';
  // A method the platform refuses fails here, as requestFromCgi would (the handler never runs).
  if (!TOKEN.test(method) || isForbiddenMethod(method)) return requestFromCgi(env, body);
  return new LightRequest(env, body) as unknown as Request;
}

/** The platform Request, taking a light request as input like a platform one. */
class RequestAcceptingLight extends StandardRequest {
  constructor(input: ConstructorParameters<typeof Request>[0], init?: RequestInit) {
    super(LightRequest.unwrap(input), init);
  }

  /** Light requests are Requests; a subclass of the global Request keeps the ordinary test. */
  static override [Symbol.hasInstance](this: object, value: unknown): boolean {
    if (this === RequestAcceptingLight) return value instanceof StandardRequest;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

function fetchAcceptingLight(input: ConstructorParameters<typeof Request>[0], init?: RequestInit): Promise<Response> {
  return standardFetch(LightRequest.unwrap(input), init);
}

/** Makes `new Request(light)` and `fetch(light)` work in this process (resident workers, at boot). */
export function installLightRequest(): void {
  if (globalThis.Request === RequestAcceptingLight) return;
  Object.defineProperty(RequestAcceptingLight, 'name', { value: 'Request' });
  Object.defineProperty(fetchAcceptingLight, 'name', { value: 'fetch' });
  const define = (name: string, value: unknown): void => {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  };
  define('Request', RequestAcceptingLight);
  // request.constructor === Request, and `new request.constructor(url)` builds a working one.
  Object.defineProperty(LightRequest.prototype, 'constructor', { value: RequestAcceptingLight, writable: true, configurable: true, enumerable: false });
  define('fetch', fetchAcceptingLight);
}
