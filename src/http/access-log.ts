// The access log: one line per request, as a JSON line (the server log's own shape) or in the
// Apache/NCSA combined format that GoAccess, AWStats and every log tool read.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { RouteKind } from './route.js';

export type AccessFormat = 'json' | 'combined';

export interface AccessLog {
  /** One request that ended (answered, or its connection went first: `completed` false). */
  record(req: IncomingMessage, res: ServerResponse, id: string, bytes: number, durationMs: number, route: RouteKind): void;
}

/**
 * `write` takes whole lines (a buffered destination); without it, a JSON line goes through `log`
 * (the pretty printer on a terminal). The line is built by hand: it is on every request's path,
 * and a template string is cheaper than pino's generic serializer (docs/performance.md).
 */
export function createAccessLog(format: AccessFormat, write: ((line: string) => void) | undefined, log: Logger): AccessLog | undefined {
  // A JSON access line is an info line of the server log: a higher --log-level drops it.
  if (format === 'json' && !log.isLevelEnabled('info')) return undefined;
  if (format === 'json' && write === undefined) {
    return {
      record(req, res, id, bytes, durationMs, route) {
        log.info({ reqId: id, method: req.method, path: req.url, status: res.statusCode, bytes, durationMs, route, remote: req.socket.remoteAddress, completed: res.writableFinished }, 'request');
      },
    };
  }
  const out = write!;
  if (format === 'json') {
    const head = `{"level":30,"time":`;
    const pid = `,"pid":${process.pid},"reqId":"`;
    return {
      record(req, res, id, bytes, durationMs, route) {
        const remote = req.socket.remoteAddress;
        const url = req.url ?? '';
        out(
          // The method is a token (node's parser checks it); the target may need escaping.
          `${head}${Date.now()}${pid}${id}","method":"${req.method ?? ''}","path":${JSON_ESCAPE.test(url) ? JSON.stringify(url) : `"${url}"`},"status":${res.statusCode},"bytes":${bytes},"durationMs":${durationMs},"route":"${route}"` +
            `${remote === undefined ? '' : `,"remote":"${remote}"`},"completed":${res.writableFinished},"msg":"request"}\n`,
        );
      },
    };
  }
  return {
    record(req, res, _id, bytes, _durationMs, _route) {
      // %b is the body's size: what went out on the socket less the response head node wrote.
      const head = (res as unknown as { _header?: string | null })._header;
      const body = typeof head === 'string' ? Math.max(0, bytes - head.length) : bytes;
      const referer = req.headers.referer;
      const agent = req.headers['user-agent'];
      out(
        `${req.socket.remoteAddress ?? '-'} - - [${clfTime()}] "${escape(`${req.method ?? '-'} ${req.url ?? '-'} HTTP/${req.httpVersion}`)}" ${res.statusCode} ${body === 0 ? '-' : body}` +
          ` "${referer === undefined ? '-' : escape(referer)}" "${agent === undefined ? '-' : escape(agent)}"\n`,
      );
    },
  };
}

/** What JSON.stringify would change in a string: quote, backslash, controls, lone surrogates. */
// eslint-disable-next-line no-control-regex
const JSON_ESCAPE = /["\\\x00-\x1f\ud800-\udfff]/;

/** As nginx's access log escapes: `"`, `\` and bytes outside printable ASCII become \xHH. */
function escape(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /["\\\x00-\x1f\x7f-\uffff]/.test(s) ? s.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => (c.charCodeAt(0) > 0xff ? encodeURIComponent(c) : '\\x' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))) : s;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = -1;
let clfText = '';

/** `10/Oct/2000:13:55:36 -0700` (Common Log Format, local time), computed once a second. */
function clfTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second === clfSecond) return clfText;
  const d = new Date(second * 1000);
  const off = -d.getTimezoneOffset();
  const two = (n: number): string => String(n).padStart(2, '0');
  const zone = `${off >= 0 ? '+' : '-'}${two(Math.floor(Math.abs(off) / 60))}${two(Math.abs(off) % 60)}`;
  clfText = `${two(d.getDate())}/${MONTHS[d.getMonth()]!}/${d.getFullYear()}:${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
  clfSecond = second;
  return clfText;
}
