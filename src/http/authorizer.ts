// The front as a FastCGI Authorizer client (FastCGI 1.0 §6.3): `serve --authorizer <prefix>=<addr>`.
//
// Before any mount serves a path under the prefix (static files, /cgi-bin/, /fcgi-bin/), the
// front asks the authorizer with the request's meta-variables and without its body (§6.3: no
// CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED or SCRIPT_NAME either). Status 200 lets the request
// through, and each "Variable-NAME: value" header of that answer becomes the meta-variable NAME
// of the CGI or FastCGI request that follows; any other answer goes to the client as the
// authorizer wrote it (status, headers, body). The authorizer sees HTTP_AUTHORIZATION whatever
// --pass-authorization says: judging credentials is its job.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { sendError } from '../errors.js';
import type { Logger } from '../log.js';
import { answerCgiBuffer } from '../cgi/answer.js';
import { requestMetaVariables, type GatewaySettings } from '../cgi/env-http.js';
import { CgiHeadParser } from '../cgi/response.js';
import { createFastcgiClient, type FastcgiClient } from '../fastcgi/client.js';
import { isFastcgiError } from '../fastcgi/errors.js';
import type { Mount, RequestContext } from './route.js';

export interface AuthorizerOption {
  /** A path prefix that ends with '/'. */
  readonly prefix: string;
  /** The FastCGI address: host:port or unix:/path. */
  readonly upstream: string;
}

export interface AuthorizerSettings {
  readonly documentRoot: string;
  readonly serverSoftware: string;
  readonly log: Logger;
}

/** An authorizer's answer is a short refusal or an empty 200: more than this is refused (502). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** How long a first connection waits for GET_VALUES_RESULT (and for connect) before going on. */
const PROBE_WAIT_MS = 1000;
/** §6.3: the web server does not send these to an Authorizer. */
const NOT_SENT = ['CONTENT_LENGTH', 'PATH_INFO', 'PATH_TRANSLATED', 'SCRIPT_NAME', 'SCRIPT_FILENAME'] as const;
/** A Variable-NAME must name a meta-variable (RFC 3875 §4.1 syntax); httpoxy's never. */
const META_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NO_SCRIPT = { scriptName: '', pathInfo: '', filename: '' } as const;
const PROTECTED_FIELDS: ReadonlySet<string> = new Set(['x-request-id']);

interface Guard {
  readonly prefix: string;
  readonly upstream: string;
  readonly client: FastcgiClient;
}

type Verdict =
  | { readonly allow: true; readonly variables: Readonly<Record<string, string>> }
  | { readonly allow: false };

/**
 * The mounts, each asking the authorizer of the longest matching prefix first; `close` closes the
 * authorizer connections (after the front closed its mounts).
 */
export function withAuthorizers(mounts: readonly Mount[], options: readonly AuthorizerOption[], settings: AuthorizerSettings): { mounts: Mount[]; close(): Promise<void> } {
  if (options.length === 0) return { mounts: [...mounts], close: async () => {} };
  const log = settings.log;
  // One client per address: an authorizer built on libfcgi (Perl FCGI, cgi-fcgi) serves one
  // connection at a time, so two clients' kept connections to it would wait for each other.
  const clients = new Map<string, FastcgiClient>();
  const clientFor = (upstream: string): FastcgiClient => {
    let c = clients.get(upstream);
    // libfcgi does not answer GET_VALUES (§4.1): the client's probe waits out its connect timeout
    // before it treats the upstream as one that does not multiplex; keep that wait short.
    if (c === undefined) clients.set(upstream, (c = createFastcgiClient({ upstreams: [upstream], log, connectTimeoutMs: PROBE_WAIT_MS })));
    return c;
  };
  const guards: Guard[] = options
    .map((o) => ({ prefix: o.prefix, upstream: o.upstream, client: clientFor(o.upstream) }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const gateway: GatewaySettings = { documentRoot: settings.documentRoot, serverSoftware: settings.serverSoftware, passAuthorization: true };

  async function ask(guard: Guard, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<Verdict> {
    const params = requestMetaVariables(req, ctx, NO_SCRIPT, null, gateway);
    ctx.metaVariables = undefined;
    for (const name of NOT_SENT) delete params[name];
    let whole: Buffer | null;
    try {
      const response = await guard.client.request({ params, body: null, role: 'authorizer' });
      whole = response.takeComplete() ?? (await readBounded(response.stdout, MAX_ANSWER_BYTES));
    } catch (err) {
      if (!isFastcgiError(err)) throw err;
      ctx.log.warn({ upstream: guard.upstream, code: err.code, err }, 'FastCGI authorizer failed');
      sendError(res, err.errorCode, ctx.id);
      return { allow: false };
    }
    if (whole === null) {
      ctx.log.warn({ upstream: guard.upstream, maxBytes: MAX_ANSWER_BYTES }, 'FastCGI authorizer answer too large');
      sendError(res, 'FF_BAD_SCRIPT_RESPONSE', ctx.id);
      return { allow: false };
    }
    const parser = new CgiHeadParser(MAX_ANSWER_BYTES);
    const parsed = parser.push(whole) ? parser.result! : parser.end();
    if (parsed.ok && (parsed.head.status ?? 200) === 200 && parsed.head.location === null) {
      const variables: Record<string, string> = {};
      for (const [field, value] of parsed.head.fields) {
        if (field.length <= 9 || field.slice(0, 9).toLowerCase() !== 'variable-') continue;
        const name = field.slice(9);
        if (META_NAME.test(name) && name.toUpperCase() !== 'HTTP_PROXY') variables[name] = value;
        else ctx.log.warn({ upstream: guard.upstream, field }, 'FastCGI authorizer variable ignored: not a meta-variable name');
      }
      return { allow: true, variables };
    }
    // Refused: the authorizer's answer is the client's (a malformed one is a 502).
    const result = await answerCgiBuffer(res, ctx, whole, { maxHeaderBytes: MAX_ANSWER_BYTES, protectedFields: PROTECTED_FIELDS });
    if (result.kind === 'malformed') {
      ctx.log.warn({ upstream: guard.upstream, malformed: result.reason }, 'malformed FastCGI authorizer answer');
      sendError(res, 'FF_BAD_SCRIPT_RESPONSE', ctx.id);
    }
    return { allow: false };
  }

  const guarded = mounts.map((mount): Mount => {
    const inner = mount.handle;
    return {
      prefix: mount.prefix,
      kind: mount.kind,
      ...(mount.close ? { close: () => mount.close!() } : {}),
      handle: async (req, res, ctx) => {
        const guard = guards.find((g) => ctx.rawPath.startsWith(g.prefix));
        if (guard === undefined) return inner(req, res, ctx);
        const verdict = await ask(guard, req, res, ctx);
        if (!verdict.allow) return;
        ctx.authorizerVariables = verdict.variables;
        return inner(req, res, ctx);
      },
    };
  });
  return {
    mounts: guarded,
    close: async () => {
      await Promise.allSettled([...clients.values()].map((c) => c.close()));
    },
  };
}

/** The whole stream, or null past `max` bytes (the stream is destroyed then). */
async function readBounded(stream: Readable, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) {
      stream.destroy();
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
