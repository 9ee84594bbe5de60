// Worker side of the status pages: answers the master's `ff:report?`, and serves PHP-FPM's
// status and ping paths to the web server like any script (FastCGI Responder, §6.2).
import type { ResponderRequest } from '../fastcgi/server.js';
import type { SpawnerStats } from '../spawn/types.js';
import { allowList, type AllowCheck, type StatusOptions } from '../ops/status-options.js';
import { renderStatus, statusFormat } from '../ops/status-render.js';
import type { PoolStatus } from './pool-status.js';
import { isStatusMasterMessage, type StatusWorkerMessage } from './status-messages.js';
import type { Scoreboard } from './worker-state.js';

/** How long a status request waits for the master's answer before 503. */
const STATUS_TIMEOUT_MS = 2000;

export class StatusRoute {
  private readonly allowed: AllowCheck;
  private nextId = 1;
  /** Status requests waiting for the master, by id: a few at a time, never on the request path. */
  private waiting: Array<{ id: number; resolve: (s: PoolStatus | null) => void }> = [];

  constructor(
    private readonly opts: StatusOptions | undefined,
    private readonly board: Scoreboard,
    private readonly cgi: () => SpawnerStats,
    private readonly send: (m: StatusWorkerMessage) => void,
  ) {
    this.allowed = allowList(opts?.allow ?? []);
  }

  /** The master's messages for this module; false: not ours. */
  onMessage(m: unknown): boolean {
    if (!isStatusMasterMessage(m)) return false;
    if (m.type === 'ff:report?') {
      this.send({ type: 'ff:report', report: { ...this.board.report(), cgi: this.cgi() } });
      return true;
    }
    const i = this.waiting.findIndex((w) => w.id === m.id);
    if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m.status as PoolStatus);
    return true;
  }

  /** True when SCRIPT_NAME is the status or ping path: then serve() answers it. */
  matches(r: ResponderRequest): boolean {
    const o = this.opts;
    if (o === undefined || !o.enabled || (o.statusPath === undefined && o.pingPath === undefined)) return false;
    const name = r.params.get('SCRIPT_NAME');
    return name !== undefined && (name === o.statusPath || name === o.pingPath);
  }

  async serve(r: ResponderRequest): Promise<void> {
    // A refused client learns nothing, not even why (the page names scripts and URIs).
    if (!this.allowed(r.params.get('REMOTE_ADDR'))) return r.endWith('Status: 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    const method = r.params.get('REQUEST_METHOD') ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return r.endWith('Status: 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n\r\n');
    const head = method === 'HEAD';
    if (r.params.get('SCRIPT_NAME') === this.opts?.pingPath) return r.endWith(answer('text/plain', 'pong\n', head));
    const query = r.params.get('QUERY_STRING') ?? '';
    const format = statusFormat(query, 'text');
    const status = await this.ask(format.full);
    if (status === null) return r.endWith('Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nthe pool master did not answer\n');
    const page = renderStatus(status, format, r.params.get('SCRIPT_NAME') ?? '/status');
    return r.endWith(answer(page.type, page.body, head));
  }

  private ask(full: boolean): Promise<PoolStatus | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w.id !== id);
        resolve(null);
      }, STATUS_TIMEOUT_MS);
      this.waiting.push({
        id,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
      this.send({ type: 'ff:status?', id, full });
    });
  }
}

function answer(type: string, body: string, head: boolean): Buffer {
  const bytes = Buffer.from(body, 'utf8');
  const headers = `Content-Type: ${type}\r\nContent-Length: ${bytes.length}\r\nCache-Control: no-store\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n`;
  return head ? Buffer.from(headers, 'latin1') : Buffer.concat([Buffer.from(headers, 'latin1'), bytes]);
}
