// The pool's stats listener (uWSGI's stats server): status, ping and metrics over plain HTTP,
// served by the pool master itself, which never touches a FastCGI request.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';
import { formatListen } from '../config-parse.js';
import { clearStaleSocket } from '../unix-socket.js';
import type { PoolStatus } from '../pool/pool-status.js';
import { allowList, type StatusOptions } from './status-options.js';
import { answerOps, type OpsPages } from './status.js';
import { createMetrics } from './metrics.js';

export interface StatusProvider {
  status(full: boolean): Promise<PoolStatus>;
}

export interface StatsServer {
  readonly server: Server;
  close(): Promise<void>;
}

export async function startStatsServer(opts: StatusOptions, pool: StatusProvider, log: Logger): Promise<StatsServer> {
  const listen = opts.stats!;
  const pages: OpsPages = {
    allowed: allowList(opts.allow),
    status: (full) => pool.status(full),
    metrics: createMetrics({ status: () => pool.status(false) }),
    paths: { status: ['/', '/status'], ping: '/ping', metrics: '/metrics' },
  };
  const server = createServer((req, res) => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const request = { method: req.method ?? 'GET', path: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q + 1), accept: req.headers.accept ?? '', remote: req.socket.remoteAddress };
    answerOps(pages, request).then(
      (a) => {
        const answer = a ?? { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'not found\n' };
        res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
        res.end(request.method === 'HEAD' ? undefined : answer.body);
      },
      (err: unknown) => {
        log.error({ err }, 'stats page failed');
        res.writeHead(500, { 'content-length': '0' });
        res.end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (listen.kind === 'unix') {
      void clearStaleSocket(listen.path).then((live) => (live === null ? server.listen(listen.path, done) : reject(new Error(`${live} is in use`))));
    } else server.listen(listen.port, listen.host, done);
  });
  log.info({ stats: formatListen(listen) }, 'stats listener started');
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
