// Operations pages: /-/status (JSON, or HTML for browsers) and /-/metrics (Prometheus text).
import type { Mount } from '../http/route.js';
import { sendError } from '../errors.js';

/** A named group of gauges/counters that some component reports (front, spawner, pool...). */
export type StatsSource = () => Record<string, number | string>;

export interface StatusOptions {
  readonly sources: Readonly<Record<string, StatsSource>>;
  readonly version: string;
}

export function collect(sources: Readonly<Record<string, StatsSource>>): Record<string, Record<string, number | string>> {
  const out: Record<string, Record<string, number | string>> = {};
  for (const [name, source] of Object.entries(sources)) {
    try {
      out[name] = source();
    } catch (err) {
      out[name] = { error: (err as Error).message };
    }
  }
  return out;
}

function prometheus(data: Record<string, Record<string, number | string>>): string {
  let text = '';
  for (const [group, values] of Object.entries(data)) {
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== 'number') continue;
      const name = `forkfast_${group}_${key}`.replace(/[^a-zA-Z0-9_]/g, '_').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
      text += `# TYPE ${name} gauge\n${name} ${value}\n`;
    }
  }
  return text;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function html(data: Record<string, Record<string, number | string>>, version: string): string {
  const sections = Object.entries(data)
    .map(([group, values]) => {
      const rows = Object.entries(values)
        .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
        .join('');
      return `<section><h2>${escapeHtml(group)}</h2><table>${rows}</table></section>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>forkfast status</title>
<meta http-equiv="refresh" content="2"><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>forkfast ${escapeHtml(version)} status</h1>${sections}
<p><a href="/-/status?format=json">JSON</a> · <a href="/-/metrics">Prometheus metrics</a> · <a href="/">home</a></p></main></body></html>\n`;
}

export function createStatusMount(opts: StatusOptions): Mount {
  return {
    prefix: '/-/',
    kind: 'ops',
    handle: async (req, res, ctx) => {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        sendError(res, 'FF_METHOD_NOT_ALLOWED', ctx.id, { allow: 'GET, HEAD' });
        return;
      }
      const data = collect(opts.sources);
      let body: string;
      let type: string;
      if (ctx.rawPath === '/-/metrics') {
        body = prometheus(data);
        type = 'text/plain; version=0.0.4; charset=utf-8';
      } else if (ctx.rawPath === '/-/status') {
        const wantsHtml = !ctx.query.includes('format=json') && (req.headers.accept ?? '').includes('text/html');
        body = wantsHtml ? html(data, opts.version) : JSON.stringify({ version: opts.version, ...data }, null, 2) + '\n';
        type = wantsHtml ? 'text/html; charset=utf-8' : 'application/json';
      } else {
        sendError(res, 'FF_NOT_FOUND', ctx.id);
        return;
      }
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(ctx.method === 'HEAD' ? undefined : body);
    },
  };
}
