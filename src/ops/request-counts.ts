// The front's per-request counting: plain typed arrays on the request path, read by /-/metrics.
//
// prom-client's own Counter.inc and Histogram.observe hash their label set on every call: about
// 2 µs per request for one counter and one histogram on this machine, several per cent of a
// resident "hello". Here a request costs a few array writes; metrics.ts turns the arrays into
// prom-client metrics only when someone scrapes.
import type { RouteKind } from '../http/route.js';

/** Route labels: /fcgi-bin/ (the resident pool) apart from other FastCGI mounts. */
export const ROUTES = ['static', 'cgi', 'fcgi', 'fastcgi', 'ops'] as const;
export type RouteLabel = (typeof ROUTES)[number];
export const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Upper bounds in seconds (Prometheus `le`); +Inf is the count. */
export const BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const NB = BUCKETS.length;

function routeIndex(kind: RouteKind, url: string): number {
  switch (kind) {
    case 'static':
      return 0;
    case 'cgi':
      return 1;
    case 'fastcgi':
      return url.startsWith('/fcgi-bin/') ? 2 : 3;
    default:
      return 4;
  }
}

export class RequestCounts {
  /** [route * 5 + class] */
  readonly count = new Float64Array(ROUTES.length * CLASSES.length);
  readonly sum = new Float64Array(ROUTES.length * CLASSES.length);
  /** [(route * 5 + class) * NB + bucket]: observations <= BUCKETS[bucket] (not cumulative here). */
  readonly buckets = new Float64Array(ROUTES.length * CLASSES.length * NB);
  readonly bytesIn = new Float64Array(ROUTES.length);
  readonly bytesOut = new Float64Array(ROUTES.length);

  /** One finished request: its route, status, duration (ms) and bytes. */
  observe(kind: RouteKind, url: string, status: number, ms: number, bytesIn: number, bytesOut: number): void {
    const r = routeIndex(kind, url);
    let c = ((status / 100) | 0) - 1;
    if (c < 0 || c > 4) c = 4;
    const i = r * 5 + c;
    this.count[i]! += 1;
    const s = ms / 1000;
    this.sum[i]! += s;
    let b = 0;
    while (b < NB && s > BUCKETS[b]!) b++;
    if (b < NB) this.buckets[i * NB + b]! += 1;
    this.bytesIn[r]! += bytesIn;
    this.bytesOut[r]! += bytesOut;
  }

  total(): number {
    let n = 0;
    for (const v of this.count) n += v;
    return n;
  }
}
