// Operations pages: /-/status (PHP-FPM's fields and formats), /-/ping and /-/metrics (Prometheus),
// for `serve`'s mount and the pool's stats listener alike.
import type { Mount } from '../http/route.js';
import { sendError } from '../errors.js';
import type { AllowCheck } from './status-options.js';
import { renderStatus, statusFormat, type StatusDocument } from './status-render.js';
import type { MetricsPage } from './metrics.js';

export interface OpsPages {
  readonly allowed: AllowCheck;
  readonly status: (full: boolean) => Promise<StatusDocument>;
  readonly metrics: MetricsPage;
  /** The paths answered: `serve` uses /-/status, the stats listener /status (and / too). */
  readonly paths: { readonly status: readonly string[]; readonly ping: string; readonly metrics: string };
}

export interface OpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const NO_STORE = { 'cache-control': 'no-store' };

/**
 * The answer for one request, or null when the path is not an ops page. A client outside the
 * allow list gets 403 and an empty body: the pages name scripts and URIs, the refusal nothing.
 */
export async function answerOps(pages: OpsPages, req: { method: string; path: string; query: string; accept: string; remote: string | undefined }): Promise<OpsAnswer | null> {
  const { paths } = pages;
  const isStatus = paths.status.includes(req.path);
  if (!isStatus && req.path !== paths.ping && req.path !== paths.metrics) return null;
  if (!pages.allowed(req.remote)) return { status: 403, headers: { 'content-length': '0' }, body: '' };
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD', 'content-length': '0' }, body: '' };
  if (req.path === paths.ping) return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', ...NO_STORE }, body: 'pong\n' };
  if (req.path === paths.metrics) {
    const m = await pages.metrics.render();
    return { status: 200, headers: { 'content-type': m.type, ...NO_STORE }, body: m.body };
  }
  // A browser gets the page that refreshes itself; scripts get JSON unless they ask otherwise.
  const format = statusFormat(req.query, req.accept.includes('text/html') ? 'html' : 'json');
  const page = renderStatus(await pages.status(format.full), format, paths.status[0]!);
  return { status: 200, headers: { 'content-type': page.type, ...NO_STORE }, body: page.body };
}

export function createStatusMount(pages: OpsPages): Mount {
  return {
    prefix: '/-/',
    kind: 'ops',
    handle: async (req, res, ctx) => {
      const answer = await answerOps(pages, { method: ctx.method, path: ctx.rawPath, query: ctx.query, accept: req.headers.accept ?? '', remote: req.socket.remoteAddress });
      if (answer === null) {
        sendError(res, 'FF_NOT_FOUND', ctx.id);
        return;
      }
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
      res.end(ctx.method === 'HEAD' ? undefined : answer.body);
    },
  };
}
