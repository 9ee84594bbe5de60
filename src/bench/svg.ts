// Inline SVG charts for the HTML report: horizontal throughput bars and a latency-percentile plot.

export interface Bar {
  label: string;
  value: number;
  color: string;
}

export interface Series {
  name: string;
  color: string;
  /** [percentile, ms] pairs, same percentiles for every series. */
  points: ReadonlyArray<readonly [number, number]>;
}

const FONT = 'font-family="system-ui, sans-serif"';

/** Escapes text for SVG/HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function num(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

/** Horizontal bars, one per row, value printed at the end of each: readable on a projector. */
export function barChart(bars: readonly Bar[], title: string, unit: string, width = 960): string {
  const rowH = 44;
  const labelW = 300;
  const top = 56;
  const height = top + bars.length * rowH + 16;
  const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const room = width - labelW - 150;
  const rows = bars.map((b, i) => {
    const y = top + i * rowH;
    const w = Number.isFinite(b.value) && b.value > 0 ? Math.max(2, (b.value / max) * room) : 0;
    return (
      `<text x="${labelW - 12}" y="${y + 27}" text-anchor="end" font-size="20" ${FONT}>${esc(b.label)}</text>` +
      `<rect x="${labelW}" y="${y + 6}" width="${w.toFixed(1)}" height="${rowH - 12}" fill="${esc(b.color)}" rx="3"/>` +
      `<text x="${(labelW + w + 10).toFixed(1)}" y="${y + 27}" font-size="20" font-weight="bold" ${FONT}>${num(b.value)} ${esc(unit)}</text>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(title)}">` +
    `<title>${esc(title)}</title>` +
    `<text x="12" y="32" font-size="24" font-weight="bold" ${FONT}>${esc(title)}</text>` +
    rows.join('') +
    `</svg>`
  );
}

/** Decades from 10^lo to 10^hi covering [min, max] (log scale for latencies spanning 0.1 ms to 1 s). */
export function logRange(min: number, max: number): [number, number] {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-3)));
  const hi = Math.ceil(Math.log10(Math.max(max, 1e-3)));
  return [lo, hi > lo ? hi : lo + 1];
}

/** Latency (ms, log scale) at each percentile, one line per series. */
export function percentileChart(series: readonly Series[], title: string, width = 960, height = 520): string {
  const left = 110;
  const right = 260;
  const top = 60;
  const bottom = 70;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const pcts = series[0]?.points.map(([p]) => p) ?? [];
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => Number.isFinite(v) && v > 0);
  const [lo, hi] = logRange(values.length ? Math.min(...values) : 0.1, values.length ? Math.max(...values) : 1);
  const x = (i: number): number => left + (pcts.length > 1 ? (i / (pcts.length - 1)) * plotW : plotW / 2);
  const y = (v: number): number => top + plotH - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plotH;
  const parts: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const yy = y(10 ** d).toFixed(1);
    const label = 10 ** d >= 1 ? String(10 ** d) : (10 ** d).toFixed(-d);
    parts.push(`<line x1="${left}" y1="${yy}" x2="${left + plotW}" y2="${yy}" stroke="#ccc"/>`);
    parts.push(`<text x="${left - 10}" y="${yy}" dy="6" text-anchor="end" font-size="18" ${FONT}>${label} ms</text>`);
  }
  pcts.forEach((p, i) => {
    parts.push(`<text x="${x(i).toFixed(1)}" y="${top + plotH + 30}" text-anchor="middle" font-size="18" ${FONT}>p${p}</text>`);
  });
  series.forEach((s, k) => {
    const pts = s.points
      .map(([, v], i) => (Number.isFinite(v) && v > 0 ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null))
      .filter((p): p is string => p !== null);
    if (pts.length > 0) {
      parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${esc(s.color)}" stroke-width="4"/>`);
      for (const pt of pts) {
        const [cx, cy] = pt.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="5" fill="${esc(s.color)}"/>`);
      }
    }
    const ly = top + 10 + k * 30;
    parts.push(`<rect x="${left + plotW + 20}" y="${ly}" width="22" height="6" fill="${esc(s.color)}"/>`);
    parts.push(`<text x="${left + plotW + 50}" y="${ly + 8}" font-size="18" ${FONT}>${esc(s.name)}</text>`);
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(title)}">` +
    `<title>${esc(title)}</title>` +
    `<text x="12" y="32" font-size="24" font-weight="bold" ${FONT}>${esc(title)}</text>` +
    `<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle" font-size="18" ${FONT}>percentile of requests</text>` +
    parts.join('') +
    `</svg>`
  );
}
