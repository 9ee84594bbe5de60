// The status page in PHP-FPM's formats: text (its default), JSON, HTML that refreshes itself,
// and OpenMetrics; `full` adds one entry per worker process.
import type { CgiStatus, PoolStatus, ProcessStatus } from '../pool/pool-status.js';

export interface StatusFormat {
  readonly kind: 'text' | 'json' | 'html' | 'openmetrics';
  readonly full: boolean;
}

/** PHP-FPM's query words (`?json&full`); `format=json` also works. */
export function statusFormat(query: string, fallback: StatusFormat['kind']): StatusFormat {
  let kind = fallback;
  let full = false;
  for (const word of query.split('&')) {
    const [k, v] = word.split('=');
    const name = k === 'format' ? v : k;
    if (name === 'json' || name === 'html' || name === 'openmetrics' || name === 'text') kind = name;
    else if (name === 'full') full = true;
  }
  return { kind, full };
}

/** A status page: the pool's fields, then whatever else the process adds (nested objects). */
export type StatusDocument = PoolStatus;

const CONTENT_TYPES: Record<StatusFormat['kind'], string> = {
  text: 'text/plain; charset=utf-8',
  json: 'application/json',
  html: 'text/html; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

export function renderStatus(doc: StatusDocument, format: StatusFormat, selfPath: string): { type: string; body: string } {
  const body =
    format.kind === 'json' ? JSON.stringify(doc) + '\n'
    : format.kind === 'html' ? html(doc, selfPath, format.full)
    : format.kind === 'openmetrics' ? openMetrics(doc)
    : text(doc);
  return { type: CONTENT_TYPES[format.kind], body };
}

function scalars(obj: object): [string, string | number | boolean][] {
  return Object.entries(obj).filter((e): e is [string, string | number | boolean] => typeof e[1] !== 'object');
}

function text(doc: StatusDocument): string {
  const line = ([k, v]: [string, unknown]): string => `${`${k}:`.padEnd(22)}${String(v)}\n`;
  let out = scalars(doc).map(line).join('');
  for (const [k, v] of Object.entries(doc)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
    out += scalars(v).map(([kk, vv]) => line([`${k} ${kk}`, vv])).join('');
  }
  for (const p of doc.processes ?? []) out += '\n************************\n' + scalars(p).map(line).join('');
  return out;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function table(rows: [string, unknown][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`).join('')}</table>`;
}

function html(doc: StatusDocument, selfPath: string, full: boolean): string {
  const sections = [`<section><h2>pool ${escapeHtml(doc.pool)}</h2>${table(scalars(doc))}</section>`];
  for (const [k, v] of Object.entries(doc)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) sections.push(`<section><h2>${escapeHtml(k)}</h2>${table(scalars(v))}</section>`);
  }
  const procs = doc.processes ?? [];
  if (procs.length > 0) {
    const cols = Object.keys(procs[0]!) as (keyof ProcessStatus)[];
    const head = cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
    const rows = procs.map((p) => `<tr>${cols.map((c) => `<td>${escapeHtml(String(p[c]))}</td>`).join('')}</tr>`).join('\n');
    sections.push(`<section><h2>processes</h2><table class="processes"><tr>${head}</tr>\n${rows}</table></section>`);
  }
  const other = full ? '' : 'full&';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>forkfast status: ${escapeHtml(doc.pool)}</title>
<meta http-equiv="refresh" content="2">
<style>body{font:14px system-ui,sans-serif;margin:1em 2em}table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#f4f4f4}</style></head>
<body><h1>forkfast status</h1>${sections.join('\n')}
<p><a href="${escapeHtml(selfPath)}?${other}html">${full ? 'summary' : 'every process'}</a> · <a href="${escapeHtml(selfPath)}?json&amp;full">JSON</a> · <a href="${escapeHtml(selfPath)}?openmetrics">OpenMetrics</a></p></body></html>\n`;
}

/** OpenMetrics 1.0: counters' samples end in _total, and the exposition ends with `# EOF`. */
function openMetrics(doc: StatusDocument): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void => {
    out.push(`# TYPE forkfast_${name} ${type}`, `# HELP forkfast_${name} ${help}`);
    for (const [labels, value] of samples) out.push(`forkfast_${name}${type === 'counter' ? '_total' : ''}${labels} ${value}`);
  };
  const name = doc.pool.replace(/["\\\n]/g, '_');
  const pool = `{pool="${name}"}`;
  metric('pool_start_since_seconds', 'gauge', 'Seconds since the pool started.', [[pool, doc['start since']]]);
  metric('pool_accepted_connections', 'counter', 'Requests accepted by the pool.', [[pool, doc['accepted conn']]]);
  metric('pool_listen_queue', 'gauge', 'Connections waiting in the kernel accept queue.', [[pool, doc['listen queue']]]);
  metric('pool_max_listen_queue', 'gauge', 'Most connections seen waiting in the accept queue.', [[pool, doc['max listen queue']]]);
  metric('pool_listen_queue_length', 'gauge', 'Size of the accept queue (the listen backlog).', [[pool, doc['listen queue len']]]);
  metric('pool_idle_processes', 'gauge', 'Workers with no request in progress.', [[pool, doc['idle processes']]]);
  metric('pool_active_processes', 'gauge', 'Workers with a request in progress.', [[pool, doc['active processes']]]);
  metric('pool_total_processes', 'gauge', 'Workers in all.', [[pool, doc['total processes']]]);
  metric('pool_max_active_processes', 'gauge', 'Most workers seen active at once.', [[pool, doc['max active processes']]]);
  metric('pool_max_children_reached', 'counter', 'Requests that found every CGI child slot taken.', [[pool, doc['max children reached']]]);
  metric('pool_slow_requests', 'counter', 'Requests that ran past --slow-request.', [[pool, doc['slow requests']]]);
  metric('pool_worker_exits', 'counter', 'Workers that ended, by cause.', Object.entries(doc['worker exits']).map(([cause, n]) => [`{pool="${name}",cause="${cause}"}`, n]));
  const cgi: CgiStatus = doc.cgi;
  metric('cgi_children', 'gauge', 'Forked CGI children by state.', [['{state="running"}', cgi['children running']], ['{state="queued"}', cgi['children queued']]]);
  metric('cgi_refused', 'counter', 'CGI requests refused because the queue was full.', [['', cgi.refused]]);
  metric('cgi_timed_out', 'counter', 'CGI children killed for a timeout.', [['', cgi['timed out']]]);
  // Per-process figures: one family each with a pid label, not one family per pid.
  const procs = doc.processes ?? [];
  if (procs.length > 0) {
    metric('process_requests', 'counter', 'Requests served by the worker.', procs.map((p) => [`{pid="${p.pid}"}`, p.requests]));
    metric('process_request_duration_microseconds', 'gauge', 'Duration of the current or last request.', procs.map((p) => [`{pid="${p.pid}"}`, p['request duration']]));
    metric('process_rss_bytes', 'gauge', 'Resident memory of the worker.', procs.map((p) => [`{pid="${p.pid}"}`, p.rss]));
  }
  out.push('# EOF');
  return out.join('\n') + '\n';
}
