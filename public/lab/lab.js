// The lab page: sends the anatomy form, draws the race from its event stream, polls the pool.
import { describe } from './meta.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const n = document.createElement(tag);
  Object.assign(n, props);
  for (const k of kids) n.append(k);
  return n;
};
const COLORS = { '/cgi-bin/': '#b4461f', '/fcgi-bin/': '#1f6fb4' };

$('big').addEventListener('change', (e) => document.body.classList.toggle('big', e.target.checked));

// ---- 1. Anatomy -------------------------------------------------------------------------------
function headerPairs(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf(':');
    return i < 0 ? [l, ''] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
  });
}

function varsTable(vars) {
  const t = el('table', { className: 'vars' });
  t.append(el('thead', {}, el('tr', {}, el('th', { scope: 'col', textContent: 'name' }), el('th', { scope: 'col', textContent: 'value' }), el('th', { scope: 'col', textContent: 'from, meaning' }))));
  const body = el('tbody');
  for (const name of Object.keys(vars).sort()) {
    const d = describe(name);
    const why = el('td', {}, el('span', { className: 'src', textContent: d.source }), ' ', d.meaning, ' ');
    if (d.href) why.append(el('a', { href: d.href, textContent: 'RFC 3875' }));
    const row = el('tr', {}, el('th', { scope: 'row', textContent: name }), el('td', { textContent: vars[name] }), why);
    row.dataset.name = name;
    body.append(row);
  }
  t.append(body);
  return t;
}

function recordsTable(records) {
  const t = el('table', { className: 'records' });
  t.append(el('thead', {}, el('tr', {}, ...['ms', 'direction', 'type', 'id', 'content', 'padding'].map((h) => el('th', { scope: 'col', textContent: h })))));
  const body = el('tbody');
  for (const r of records) {
    const row = el('tr', {}, el('td', { textContent: r.atMs.toFixed(2) }), el('td', { textContent: r.direction === 'sent' ? 'front → worker' : 'worker → front' }), el('td', { textContent: 'FCGI_' + r.type }), el('td', { textContent: String(r.requestId) }), el('td', { textContent: `${r.contentLength} B` }), el('td', { textContent: `${r.paddingLength} B` }));
    row.dataset.type = r.type;
    body.append(row);
  }
  t.append(body);
  return t;
}

function timing(mount, trace) {
  const m = trace.marks;
  const rows = mount === '/cgi-bin/'
    ? [['spawn (queue, fork, exec)', m.spawned], ['first output read (all of it, when small)', m['first-byte']], ['total', m.finished]]
    : [['queueing (to BEGIN_REQUEST)', m['begin-request']], ['handler (BEGIN_REQUEST → END_REQUEST)', m['end-request'] !== undefined && m['begin-request'] !== undefined ? m['end-request'] - m['begin-request'] : undefined], ['total', m.finished]];
  const t = el('table', { className: 'timing' });
  for (const [k, v] of rows) t.append(el('tr', {}, el('th', { scope: 'row', textContent: k }), el('td', { textContent: v === undefined ? '–' : `${v.toFixed(2)} ms` })));
  return t;
}

function step(title, explain, ...content) {
  return el('section', { className: 'step' }, el('h4', { textContent: title }), el('p', { className: 'explain', textContent: explain }), ...content);
}

function renderMount(m) {
  const col = el('article', { className: 'mount-col' });
  col.dataset.mount = m.mount;
  col.append(el('h3', {}, el('code', { textContent: m.mount }), m.mount === '/cgi-bin/' ? ' fork per request' : ' resident pool'));
  col.append(step('The HTTP request as sent', 'Bytes the lab wrote to the server\'s socket.', el('pre', { className: 'raw req', textContent: m.request })));
  const tr = m.trace;
  if (!tr) {
    col.append(el('p', { textContent: `No trace came back${m.error ? `: ${m.error}` : ''}.` }));
    return col;
  }
  col.append(step('Meta-variables the script received', 'RFC 3875 §4.1: the request as an environment (fork) or as FCGI_PARAMS (resident).', tr.metaVariables ? varsTable(tr.metaVariables) : el('p', { textContent: 'No script ran.' })));
  if (m.mount === '/fcgi-bin/') {
    col.append(step('FastCGI records on the socket', 'FastCGI 1.0 §3.3: every record has a type, a request id and up to 65,535 bytes of content; PARAMS and STDIN end with an empty record.', recordsTable(tr.records)));
  } else {
    col.append(step('Process', `Child pid ${tr.childPid ?? '?'}: forked and exec'd for this request, its stdin the body, its stdout the answer (src/cgi/mount.ts).`));
  }
  col.append(step('The raw CGI response', 'RFC 3875 §6: header fields, a blank line, the body, as the script wrote them; the gateway parses this.', el('pre', { className: 'raw cgi', textContent: tr.rawResponse || '(empty)' })));
  col.append(step('The HTTP response the client got', 'RFC 3875 §6.3: Status became the status line; the server added framing (Content-Length) and its own fields.', el('pre', { className: 'raw http', textContent: m.response ?? m.error ?? '' })));
  col.append(step('Timing', 'From the server\'s clock, from the request\'s arrival.', timing(m.mount, tr)));
  return col;
}

$('anatomy-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const status = $('anatomy-status');
  status.textContent = 'Sending…';
  $('send').disabled = true;
  try {
    const res = await fetch('/-/lab/anatomy', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ script: $('script').value, method: $('method').value, pathInfo: $('pathinfo').value, query: $('query').value, headers: headerPairs($('headers').value), body: $('body').value }),
    });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error ?? res.statusText);
    $('anatomy-out').replaceChildren(...data.mounts.map(renderMount));
    const codes = data.mounts.map((m) => `${m.mount}: ${m.trace ? m.trace.status : 'no trace'}`).join(', ');
    status.textContent = `Done. ${codes}.`;
  } catch (err) {
    status.textContent = `Failed: ${err.message}`;
  } finally {
    $('send').disabled = false;
  }
});

// ---- 2. The race ------------------------------------------------------------------------------
const series = { rps: {}, p50: {}, p90: {} };
function resetSeries() {
  for (const k of Object.keys(series)) series[k] = { '/cgi-bin/': [], '/fcgi-bin/': [] };
}
resetSeries();

function drawChart(svg, lines, yLabel) {
  const W = 400, H = 200, L = 44, B = 22;
  const all = lines.flatMap((l) => l.points);
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const maxY = Math.max(1e-9, ...all.map((p) => p[1])) * 1.1;
  const x = (v) => L + (v / maxX) * (W - L - 6);
  const y = (v) => H - B - (v / maxY) * (H - B - 8);
  let s = `<line x1="${L}" y1="${H - B}" x2="${W}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="0" x2="${L}" y2="${H - B}" stroke="#999"/>`;
  s += `<text x="2" y="12" font-size="11">${maxY.toPrecision(3)}</text><text x="2" y="${H - B}" font-size="11">0</text><text x="${W - 40}" y="${H - 4}" font-size="11">${maxX.toFixed(1)} s</text><text x="${L + 4}" y="12" font-size="11">${yLabel}</text>`;
  for (const l of lines) {
    if (l.points.length === 0) continue;
    const d = l.points.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    s += `<path class="line" data-mount="${l.mount}" data-points="${l.points.length}" d="${d}" fill="none" stroke="${COLORS[l.mount]}" stroke-width="2" ${l.dash ? 'stroke-dasharray="5 4"' : ''}/>`;
  }
  svg.innerHTML = s;
}

function redraw() {
  const mounts = ['/cgi-bin/', '/fcgi-bin/'];
  drawChart($('chart-rps'), mounts.map((m) => ({ mount: m, points: series.rps[m] })), 'req/s');
  drawChart($('chart-lat'), [...mounts.map((m) => ({ mount: m, points: series.p50[m] })), ...mounts.map((m) => ({ mount: m, points: series.p90[m], dash: true }))], 'ms');
}

function answersTable(mount, answers) {
  const byPid = new Map();
  for (const a of answers) {
    const k = a.pid ?? '?';
    byPid.set(k, [...(byPid.get(k) ?? []), a.count ?? '–']);
  }
  const t = el('table', { className: 'pool' });
  t.dataset.mount = mount;
  t.append(el('caption', { textContent: `${mount}: ${answers.length} requests one by one after the race: who answered` }));
  t.append(el('tr', {}, el('th', { scope: 'col', textContent: 'pid' }), el('th', { scope: 'col', textContent: 'count= in each answer' })));
  for (const [pid, counts] of byPid) t.append(el('tr', {}, el('td', { textContent: String(pid) }), el('td', { textContent: counts.join(', ') })));
  return t;
}

$('race-form').addEventListener('submit', (e) => {
  e.preventDefault();
  resetSeries();
  redraw();
  const out = $('race-results');
  out.replaceChildren();
  const status = $('race-status');
  $('race-start').disabled = true;
  const q = new URLSearchParams({ script: $('race-script').value, connections: $('race-conns').value, duration: $('race-secs').value });
  const es = new EventSource(`/-/lab/race?${q}`);
  const offset = { '/cgi-bin/': 0, '/fcgi-bin/': 0 };
  es.addEventListener('phase', (ev) => {
    const d = JSON.parse(ev.data);
    status.textContent = `Racing ${d.path} with ${d.connections} clients for ${d.durationS} s…`;
  });
  es.addEventListener('progress', (ev) => {
    const d = JSON.parse(ev.data);
    series.rps[d.mount].push([d.t + offset[d.mount], d.rps]);
    if (d.latency.p50 !== undefined) series.p50[d.mount].push([d.t, d.latency.p50]);
    if (d.latency.p90 !== undefined) series.p90[d.mount].push([d.t, d.latency.p90]);
    redraw();
  });
  es.addEventListener('result', (ev) => {
    const d = JSON.parse(ev.data);
    const l = d.latency;
    const pct = (k, p) => (l.distribution.some(([q]) => q === p) ? `${l[k].toFixed(2)} ms` : 'too few samples');
    const r = el('p', { className: 'result', textContent: `${d.mount}: ${d.reqPerSec.toFixed(0)} req/s over ${l.samples} samples; p50 ${pct('p50', 50)}, p90 ${pct('p90', 90)}, p99 ${pct('p99', 99)}; errors ${d.errors}, non-2xx ${d.non2xx}.` });
    r.dataset.mount = d.mount;
    r.dataset.rps = String(d.reqPerSec);
    out.append(r);
  });
  es.addEventListener('failed', (ev) => out.append(el('p', { textContent: `${JSON.parse(ev.data).mount}: ${JSON.parse(ev.data).message}` })));
  es.addEventListener('answers', (ev) => {
    const d = JSON.parse(ev.data);
    out.append(answersTable(d.mount, d.answers));
  });
  es.addEventListener('done', (ev) => {
    const d = JSON.parse(ev.data);
    es.close();
    $('race-start').disabled = false;
    const w = el('p', { id: 'race-winner', textContent: d.winner ? `Winner: ${d.winner}${d.ratio ? ` (${d.ratio.toFixed(1)}× the fork's throughput)` : ''}.` : 'A tie.' });
    w.dataset.winner = d.winner ?? '';
    out.prepend(w);
    status.textContent = w.textContent;
  });
  es.onerror = () => {
    es.close();
    $('race-start').disabled = false;
    if (!$('race-winner')) status.textContent = 'The race stopped (is another one running?).';
  };
});

// ---- 3. The pool live -------------------------------------------------------------------------
async function pollPool() {
  try {
    const res = await fetch('/-/lab/pool', { cache: 'no-store' });
    const d = await res.json();
    if (!res.ok) {
      $('pool-status').textContent = d.error;
      return;
    }
    const rows = d.workers.map((w) => {
      const kill = el('button', { type: 'button', textContent: 'kill -9' });
      kill.setAttribute('aria-label', `kill worker ${w.pid} with SIGKILL`);
      kill.addEventListener('click', () => fetch(`/-/lab/pool/kill?pid=${w.pid}`, { method: 'POST' }));
      const tr = el('tr', { className: w.state }, el('td', { textContent: String(w.pid) }), el('td', { textContent: String(w.generation) }), el('td', { textContent: w.state }), el('td', { textContent: String(w.served) }), el('td', { textContent: String(w.inFlight) }), el('td', {}, kill));
      tr.dataset.pid = String(w.pid);
      return tr;
    });
    $('pool-body').replaceChildren(...rows);
    const text = `Pool ${d.state}: ${d.ready} of ${d.target} workers ready.`;
    if ($('pool-status').textContent !== text) $('pool-status').textContent = text;
  } catch {
    // the server is restarting: the next poll tries again
  }
}
$('reload').addEventListener('click', () => fetch('/-/lab/pool/reload', { method: 'POST' }));
setInterval(pollPool, 500);
pollPool();
