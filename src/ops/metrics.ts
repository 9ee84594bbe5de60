// /-/metrics (and the pool's stats listener): Prometheus metrics with prom-client, filled at scrape.
//
// Nothing here runs per request: the front counts into typed arrays (request-counts.ts) and the
// pool's figures come from the status snapshot. At each scrape, counters are set to their totals
// (reset + inc: they still only go up), and the duration histogram reads the arrays.
import { Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { StatusDocument } from './status-render.js';
import { BUCKETS, CLASSES, ROUTES, type RequestCounts } from './request-counts.js';
import { EXIT_CAUSES } from '../pool/pool-status.js';

/** A histogram whose buckets live in RequestCounts: get() reads them, nothing calls observe(). */
const DURATION = 'forkfast_http_request_duration_seconds';
const DURATION_HELP = 'Time from the request head to the end of the response, by route and status class.';

class DurationHistogram extends Histogram<'route' | 'code'> {
  constructor(
    registry: Registry,
    private readonly counts: RequestCounts,
  ) {
    super({ name: DURATION, help: DURATION_HELP, labelNames: ['route', 'code'], buckets: [...BUCKETS], registers: [registry] });
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<'route' | 'code'>>> {
    return this.getForPromString();
  }

  /** What the registry prints (prom-client 15 asks a histogram for this, not get()). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<'route' | 'code'>>> {
    const values: MetricValueWithName<'route' | 'code'>[] = [];
    const c = this.counts;
    const nb = BUCKETS.length;
    for (let r = 0; r < ROUTES.length; r++) {
      for (let k = 0; k < CLASSES.length; k++) {
        const i = r * CLASSES.length + k;
        if (c.count[i] === 0) continue;
        const labels = { route: ROUTES[r]!, code: CLASSES[k]! };
        let cumulative = 0;
        for (let b = 0; b < nb; b++) {
          cumulative += c.buckets[i * nb + b]!;
          values.push({ metricName: `${DURATION}_bucket`, labels: { ...labels, le: BUCKETS[b]! } as never, value: cumulative });
        }
        values.push({ metricName: `${DURATION}_bucket`, labels: { ...labels, le: '+Inf' } as never, value: c.count[i]! });
        values.push({ metricName: `${DURATION}_sum`, labels, value: c.sum[i]! });
        values.push({ metricName: `${DURATION}_count`, labels, value: c.count[i]! });
      }
    }
    return Promise.resolve({ name: DURATION, help: DURATION_HELP, type: 'histogram' as never, values, aggregator: 'sum', collect: () => {} });
  }
}

export interface MetricsSources {
  /** The front's counts (serve); absent for the pool's stats listener. */
  readonly counts?: RequestCounts | undefined;
  /** FastCGI upstream failures by kind (FastcgiErrorCode), counted by the mounts. */
  readonly upstreamErrors?: Readonly<Record<string, number>> | undefined;
  readonly status: () => Promise<StatusDocument>;
}

export interface MetricsPage {
  /** The Prometheus text exposition format 0.0.4. */
  render(): Promise<{ type: string; body: string }>;
}

/** A counter set to a total kept elsewhere (which only grows): remove the old value, add the new. */
function setCounter(c: Counter<string>, labels: Record<string, string>, value: number): void {
  if (Object.keys(labels).length === 0) c.reset();
  else c.remove(labels);
  c.inc(labels, value);
}

export function createMetrics(src: MetricsSources): MetricsPage {
  const registry = new Registry();
  const reg = { registers: [registry] };
  const requests = new Counter({ name: 'forkfast_http_requests_total', help: 'HTTP requests answered, by route and status class.', labelNames: ['route', 'code'], ...reg });
  const received = new Counter({ name: 'forkfast_http_received_bytes_total', help: 'Bytes read from clients while their requests ran, by route.', labelNames: ['route'], ...reg });
  const sent = new Counter({ name: 'forkfast_http_sent_bytes_total', help: 'Bytes written to clients, by route.', labelNames: ['route'], ...reg });
  if (src.counts) new DurationHistogram(registry, src.counts);
  const upstream = new Counter({ name: 'forkfast_fastcgi_upstream_errors_total', help: 'FastCGI upstream failures, by kind.', labelNames: ['kind'], ...reg });
  const workers = new Gauge({ name: 'forkfast_pool_workers', help: 'Pool workers by state.', labelNames: ['state'], ...reg });
  const exits = new Counter({ name: 'forkfast_pool_worker_exits_total', help: 'Pool workers that ended, by cause (crash, timeout, recycled, reload...).', labelNames: ['cause'], ...reg });
  const accepted = new Counter({ name: 'forkfast_pool_accepted_requests_total', help: 'Requests accepted by the pool workers.', ...reg });
  const slow = new Counter({ name: 'forkfast_pool_slow_requests_total', help: 'Requests that ran past --slow-request.', ...reg });
  const listenQueue = new Gauge({ name: 'forkfast_pool_listen_queue', help: 'Connections waiting in the pool socket accept queue.', ...reg });
  const children = new Gauge({ name: 'forkfast_cgi_children', help: 'Forked CGI children by state.', labelNames: ['state'], ...reg });
  const refused = new Counter({ name: 'forkfast_cgi_queue_rejections_total', help: 'CGI requests refused (503) because every child slot and the queue were full.', ...reg });
  const reached = new Counter({ name: 'forkfast_cgi_max_children_reached_total', help: 'CGI requests that found every child slot taken.', ...reg });
  const timedOut = new Counter({ name: 'forkfast_cgi_timed_out_total', help: 'CGI children killed for a timeout.', ...reg });
  const killed = new Counter({ name: 'forkfast_cgi_killed_total', help: 'CGI children killed for another reason (client gone, shutdown).', ...reg });

  async function refresh(): Promise<void> {
    const c = src.counts;
    if (c) {
      for (let r = 0; r < ROUTES.length; r++) {
        for (let k = 0; k < CLASSES.length; k++) {
          const n = c.count[r * CLASSES.length + k]!;
          if (n > 0) setCounter(requests, { route: ROUTES[r]!, code: CLASSES[k]! }, n);
        }
        if (c.bytesIn[r]! > 0) setCounter(received, { route: ROUTES[r]! }, c.bytesIn[r]!);
        if (c.bytesOut[r]! > 0) setCounter(sent, { route: ROUTES[r]! }, c.bytesOut[r]!);
      }
    }
    for (const [kind, n] of Object.entries(src.upstreamErrors ?? {})) setCounter(upstream, { kind }, n);
    const s = await src.status();
    workers.set({ state: 'idle' }, s['idle processes']);
    workers.set({ state: 'active' }, s['active processes']);
    workers.set({ state: 'other' }, s['total processes'] - s['idle processes'] - s['active processes']);
    for (const cause of EXIT_CAUSES) setCounter(exits, { cause }, s['worker exits'][cause]);
    setCounter(accepted, {}, s['accepted conn']);
    setCounter(slow, {}, s['slow requests']);
    listenQueue.set(s['listen queue']);
    children.set({ state: 'running' }, s.cgi['children running']);
    children.set({ state: 'queued' }, s.cgi['children queued']);
    setCounter(refused, {}, s.cgi.refused);
    setCounter(reached, {}, s.cgi['max children reached']);
    setCounter(timedOut, {}, s.cgi['timed out']);
    setCounter(killed, {}, s.cgi.killed);
  }

  return {
    async render() {
      await refresh();
      return { type: registry.contentType, body: await registry.metrics() };
    },
  };
}
