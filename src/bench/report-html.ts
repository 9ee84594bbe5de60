// The self-contained HTML report of a bench run: big type, inline SVG charts, no external assets.
import type { BenchReport, PhaseMode, PhaseResult } from './types.js';
import { barChart, esc, percentileChart, type Series } from './svg.js';
import { PHASE_HEADERS, generatorBound, phaseLabel, phaseRow } from './table.js';

export const MODE_COLORS: Record<PhaseMode, string> = { static: '#7f7f7f', cgi: '#d95f02', fastcgi: '#1f78b4' };

/** Short names for charts: `static /1k.txt`, `hello.sh fork`, `hello.sh resident`. */
function shortLabel(p: PhaseResult): string {
  return p.mode === 'static' ? phaseLabel(p) : `${phaseLabel(p)} ${p.mode === 'cgi' ? 'fork' : 'resident'}`;
}

function series(p: PhaseResult): Series {
  return { name: shortLabel(p), color: MODE_COLORS[p.mode], points: p.load.latency.distribution };
}

function htmlTable(r: BenchReport): string {
  const head = PHASE_HEADERS.map((h, i) => (i < 2 ? `<th>${esc(h)}</th>` : `<th class="n">${esc(h)}</th>`)).join('');
  const body = r.phases
    .map((p) => `<tr class="${p.mode}">${phaseRow(p).map((c, i) => (i < 2 ? `<td>${esc(c)}</td>` : `<td class="n">${esc(c)}</td>`)).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function ratios(r: BenchReport): string {
  if (r.ratios.length === 0) return '';
  const items = r.ratios
    .map((x) => {
      const v = x.residentPerFork === null ? 'n/a' : `${x.residentPerFork.toFixed(1)}&times;`;
      return `<div class="ratio"><span class="big">${v}</span><span>${esc(x.script)}: resident (/fcgi-bin/) over fork (/cgi-bin/) requests/s</span></div>`;
    })
    .join('\n');
  return `<section><h2>What the resident design buys</h2>\n${items}\n</section>`;
}

function generatorNote(r: BenchReport): string {
  const bound = generatorBound(r);
  if (bound.length === 0) return '';
  const list = bound.map((p) => esc(p.path)).join(', ');
  return `<p class="meta"><strong>Note:</strong> the load generator used a full core during ${list}: there the server can do more than shown.</p>\n`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; font-size: 22px; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #111; }
h1 { font-size: 2.2rem; margin-bottom: .2rem; } h2 { font-size: 1.6rem; margin-top: 2.5rem; }
.meta { color: #444; font-size: 1rem; }
table { border-collapse: collapse; font-size: 1rem; width: 100%; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.cgi td:first-child { border-left: 6px solid ${MODE_COLORS.cgi}; }
tr.fastcgi td:first-child { border-left: 6px solid ${MODE_COLORS.fastcgi}; }
tr.static td:first-child { border-left: 6px solid ${MODE_COLORS.static}; }
.ratio { display: flex; align-items: baseline; gap: 1rem; margin: .5rem 0; }
.big { font-size: 3rem; font-weight: bold; color: ${MODE_COLORS.fastcgi}; min-width: 8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: 1rem; }
dt { font-weight: bold; }
`;

/** The page. Every value from the run is escaped; the result is one file a teacher can project. */
export function reportHtml(r: BenchReport): string {
  const bars = r.phases.map((p) => ({ label: shortLabel(p), value: p.reqPerSec, color: MODE_COLORS[p.mode] }));
  const staticPhase = r.phases.find((p) => p.mode === 'static');
  const scripts = [...new Set(r.phases.filter((p) => p.script !== null).map((p) => p.script as string))];
  const latency = scripts.map((s) => {
    const ps = r.phases.filter((p) => p.script === s);
    const all = staticPhase ? [staticPhase, ...ps] : ps;
    return percentileChart(all.map(series), `Latency distribution: ${s} (log scale)`);
  });
  if (scripts.length === 0 && staticPhase) latency.push(percentileChart([series(staticPhase)], 'Latency distribution: static (log scale)'));
  const s = r.settings;
  const m = r.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>forkfast bench ${esc(r.startedAt)}</title><style>${STYLE}</style></head>
<body>
<h1>forkfast bench</h1>
<p class="meta">${esc(r.startedAt)} &middot; ${esc(r.target)}${r.ownServer ? ' (own server)' : ''}</p>
<section><h2>Throughput</h2>
${barChart(bars, 'Successful requests per second (higher is better)', 'req/s')}
</section>
${ratios(r)}
<section><h2>Latency</h2>
${latency.join('\n')}
</section>
<section><h2>All figures</h2>
${htmlTable(r)}
${generatorNote(r)}<p class="meta">req/s counts 2xx responses only. CPU is the server and all its descendants (pool workers, forked scripts) during the measured seconds; 100 % is one core. Peak RSS is the highest sum over that process tree.</p>
</section>
<section><h2>How it was measured</h2>
<dl>
<dt>load</dt><dd>autocannon in its own process, ${s.connections} keep-alive connections, ${s.warmup} s warm-up then ${s.duration} s measured per phase, phases one after the other</dd>
<dt>workers</dt><dd>${s.workers === null ? 'not known (a server we did not start)' : String(s.workers)}</dd>
<dt>machine</dt><dd>${esc(`${m.cpus} × ${m.cpuModel}; ${m.platform} ${m.release}; node ${m.node}`)}</dd>
</dl>
</section>
</body></html>
`;
}
