// A Response that costs what a plain object costs until somebody needs the real one.
//
// Exports:
//   installLightResponse()  makes globalThis.Response the light class in this process (resident workers)
//   lightParts(response)    -> LightParts | null   status, headers and whole body of an untouched light Response
//   StandardResponse        the platform's Response, as it was before installLightResponse()
//
// Why: on Node 20, `new Response('hello')` builds a ReadableStream for its body (~9 µs) and reading
// it back costs ~14 µs more; in a resident worker that was more than the FastCGI codec, the script
// lookup and the handler together (docs/performance.md). The same idea as @hono/node-server's
// lightweight Response: a string or byte body is kept as it is, and the platform Response is built
// only when code asks for something only it has (the body stream, text(), clone()...). The writer
// then takes status, headers and bytes straight from lightParts(), without a stream.
//
// What stays standard: `instanceof Response` holds for light and platform responses alike; every
// member of Response.prototype works (the ones not written here build the platform object and
// ask it); construction errors are the platform's own (unusual arguments go straight to it);
// static Response.error() and Response.redirect() return platform responses.
import { delegateMissing, syncHeaders } from './lazy-delegate.js';

export const StandardResponse: typeof Response = globalThis.Response;

/** What the writer needs of an untouched light Response. */
export interface LightParts {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: string | Uint8Array | null;
}

/** Null body statuses (Fetch standard): a body with them is a TypeError, left to the platform to throw. */
const NULL_BODY_STATUS: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);
/** reason-phrase (RFC 9112 §4): HTAB, SP, VCHAR, obs-text. Anything else: the platform throws. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

type Init = ResponseInit | undefined;

/**
 * The light state: status, statusText and headers are ours for the response's whole life (so the
 * Headers object a handler holds is the one written out); only the body moves to `real`.
 */
export class LightResponse {
  #status = 200;
  #statusText = '';
  #headers: Headers;
  #body: string | Uint8Array | null = null;
  /** The platform Response that holds the body, once somebody asked for it. */
  #real: Response | null = null;
  /** The body was handed to the writer (lightParts): it is gone. */
  #taken = false;

  constructor(body?: ConstructorParameters<typeof Response>[0], init?: ResponseInit) {
    const light = lightBody(body);
    if (light === undefined || !simpleInit(init, light !== null)) {
      // Anything unusual: the platform decides (and throws its own errors). Fields are copied
      // from it so the light getters answer alike.
      const real = new StandardResponse(body, init);
      this.#real = real;
      this.#status = real.status;
      this.#statusText = real.statusText;
      this.#headers = real.headers;
      return;
    }
    if (init !== undefined) {
      if (init.status !== undefined) this.#status = init.status;
      if (init.statusText !== undefined) this.#statusText = init.statusText;
    }
    this.#headers = new Headers(init?.headers);
    // The Content-Type the platform derives from a string body (Fetch "extract a body").
    if (typeof light === 'string' && !this.#headers.has('content-type')) this.#headers.set('content-type', 'text/plain;charset=UTF-8');
    this.#body = light;
  }

  /** Response.json(data, init), light (the spec's steps, without the stream). */
  static json(data: unknown, init?: ResponseInit): Response {
    const text = JSON.stringify(data);
    if (text === undefined || !simpleInit(init, true)) return StandardResponse.json(data, init);
    const headers = new Headers(init?.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LightResponse(text, { status: init?.status ?? 200, statusText: init?.statusText ?? '', headers }) as unknown as Response;
  }

  static error(): Response {
    return StandardResponse.error();
  }

  static redirect(url: string | URL, status?: number): Response {
    // 302 is the standard's default status.
    return StandardResponse.redirect(url, (status ?? 302) as Parameters<typeof Response.redirect>[1]);
  }

  /**
   * `x instanceof Response` for platform responses too (their prototype chain lacks ours); a
   * subclass of the global Response keeps the ordinary prototype-chain test.
   */
  static [Symbol.hasInstance](this: object, value: unknown): boolean {
    if (this === LightResponse) return value instanceof StandardResponse;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get type(): Response['type'] {
    return this.#real !== null ? this.#real.type : 'default';
  }

  get url(): string {
    return this.#real !== null ? this.#real.url : '';
  }

  get redirected(): boolean {
    return this.#real !== null ? this.#real.redirected : false;
  }

  get bodyUsed(): boolean {
    if (this.#taken) return true;
    return this.#real !== null ? this.#real.bodyUsed : false;
  }

  clone(): Response {
    if (this.#real === null && !this.#taken) {
      // Strings are immutable and our bytes are our own copy: the clone can share them. Fields
      // are copied as they are (no second default Content-Type for a handler that deleted it).
      const copy = new LightResponse(null);
      copy.#status = this.#status;
      copy.#statusText = this.#statusText;
      copy.#headers = new Headers(this.#headers);
      copy.#body = this.#body;
      return copy as unknown as Response;
    }
    const copy = LightResponse.realOf(this).clone();
    return new StandardResponse(copy.body, { status: this.#status, statusText: this.#statusText, headers: this.#headers });
  }

  /** The platform Response behind `r`, built on first need from the light state. */
  static realOf(r: LightResponse): Response {
    if (r.#real === null) {
      if (r.#taken) {
        // The writer has the body: the platform object says so (bodyUsed, "Body is unusable").
        r.#real = new StandardResponse('', { status: r.#status, statusText: r.#statusText });
        void r.#real.arrayBuffer();
      } else {
        r.#real = new StandardResponse(r.#body, { status: r.#status, statusText: r.#statusText });
      }
      r.#body = null;
    }
    // Our Headers are the response's: the platform copy follows them (blob().type, clone()).
    if (r.#real.headers !== r.#headers) syncHeaders(r.#real.headers, r.#headers);
    return r.#real;
  }

  /** The light state of `r`, once: after this the response has no body left to read. */
  static take(r: unknown): LightParts | null {
    if (!(typeof r === 'object' && r !== null && #real in r)) return null;
    if (r.#real !== null || r.#taken) return null;
    r.#taken = true;
    const parts: LightParts = { status: r.#status, statusText: r.#statusText, headers: r.#headers, body: r.#body };
    r.#body = null;
    return parts;
  }
}

// The platform prototype chain: instanceof, Object.prototype.toString ("[object Response]") and
// statics inherited from it; every member not written above asks the platform object.
Object.setPrototypeOf(LightResponse, StandardResponse);
Object.setPrototypeOf(LightResponse.prototype, StandardResponse.prototype);
delegateMissing(LightResponse.prototype, StandardResponse.prototype, (self) => LightResponse.realOf(self as LightResponse));

/** A body kept as it is: string, bytes (copied, as the platform does), or none. undefined: not light. */
function lightBody(body: unknown): string | Uint8Array | null | undefined {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new Uint8Array(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  return undefined;
}

/** An init the light path can take without a doubt: plain status and statusText, or none. */
function simpleInit(init: Init, hasBody: boolean): boolean {
  if (init === undefined) return true;
  if (typeof init !== 'object' || init === null) return false;
  const { status, statusText } = init;
  if (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599)) return false;
  if (hasBody && status !== undefined && NULL_BODY_STATUS.has(status)) return false;
  if (statusText !== undefined && !(typeof statusText === 'string' && REASON_PHRASE.test(statusText))) return false;
  return true;
}

/** The light state of an untouched light Response (and marks its body taken); null otherwise. */
export function lightParts(response: unknown): LightParts | null {
  return LightResponse.take(response);
}

/** Makes `Response` in this process the light class (resident workers call it once, at boot). */
export function installLightResponse(): void {
  if (globalThis.Response === (LightResponse as unknown as typeof Response)) return;
  Object.defineProperty(globalThis, 'Response', { value: LightResponse, writable: true, configurable: true, enumerable: false });
}
