// The request line and Host as RFC 9112 §3 reads them, where node's llhttp parser is lenient.
import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors.js';

/** Why a request head that llhttp accepted is still refused; `ok` carries the origin-form target. */
export type RequestLineVerdict =
  | { readonly ok: true; readonly target: string }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

/** The part of node's HTTPParser binding we read: the chunk being parsed (a copy). */
interface ParserWithBuffer {
  getCurrentBuffer?: () => Buffer;
}

/**
 * Checks what llhttp lets through: the version (RFC 9112 §2.3: only HTTP/1.x is served, 505
 * otherwise, HTTP/0.9 included), single spaces in the request line (§3: `method SP
 * request-target SP HTTP-version`, a server that does not split on exactly one SP answers 400),
 * exactly one Host (§3.2: 400 when an HTTP/1.1 request has none or several), and the
 * absolute form (§3.2.2: a server MUST accept it; the target's authority replaces Host).
 * On success an absolute-form request has `req.url` and Host rewritten to what the target
 * says, so every route, the access log and HTTP_HOST/SERVER_NAME see one story.
 */
export function checkRequestHead(req: IncomingMessage): RequestLineVerdict {
  if (req.httpVersionMajor !== 1) return refuse('FF_HTTP_VERSION_NOT_SUPPORTED', `HTTP/${req.httpVersion} is not served`);
  const url = req.url ?? '';
  if (!sentWithSingleSpaces(req, url)) return refuse('FF_BAD_REQUEST', 'request line with more than one space between its parts');
  const hosts = countHosts(req.rawHeaders);
  if (hosts > 1) return refuse('FF_BAD_REQUEST', 'more than one Host header');
  if (hosts === 0 && req.httpVersionMinor >= 1) return refuse('FF_BAD_REQUEST', 'an HTTP/1.1 request without Host');
  if (url.charCodeAt(0) === 0x2f /* '/' */ || url === '*') return { ok: true, target: url };
  return absoluteForm(req, url);
}

function refuse(code: ErrorCode, reason: string): RequestLineVerdict {
  return { ok: false, code, reason };
}

function countHosts(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}

const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)$/i;

/** §3.2.2: `http://authority/path?query` becomes `/path?query` with Host set to the authority. */
function absoluteForm(req: IncomingMessage, url: string): RequestLineVerdict {
  const m = ABSOLUTE.exec(url);
  if (m === null) return refuse('FF_BAD_REQUEST', 'a request-target that is neither origin nor absolute form');
  const authority = m[2] as string;
  // RFC 9110 §4.2.1: an http URI with an empty host is invalid; §4.2.4: userinfo is an error.
  if (authority === '' || authority.includes('@')) return refuse('FF_BAD_REQUEST', 'an absolute-form target without a valid authority');
  const rest = m[3] as string;
  const target = rest === '' ? '/' : rest.charCodeAt(0) === 0x3f /* '?' */ ? '/' + rest : rest;
  // At most one Host was checked before: replace its value in place (HTTP/1.0 may have none).
  const raw = req.rawHeaders;
  let replaced = false;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'host') continue;
    raw[i + 1] = authority;
    replaced = true;
  }
  if (!replaced) raw.push('Host', authority);
  req.headers['host'] = authority;
  req.url = target;
  return { ok: true, target };
}

/**
 * llhttp skips any run of spaces around the request-target and reports no offsets, so the only
 * witness is the bytes: the chunk the parser was reading when it finished this head (a copy,
 * usually the whole head). Two native searches for a double space after the method or after the
 * target settle the common case; only when one hits is the chunk read as lines, and any line
 * with this method and target split by runs of spaces refuses the request (fail closed: a good
 * line pipelined in the same chunk as a bad one for the same target is refused with it). When
 * the request line came in an earlier chunk than the end of the head, it is not seen and the
 * request passes: the check is as good as the chunk that carries it.
 */
function sentWithSingleSpaces(req: IncomingMessage, url: string): boolean {
  const parser = (req.socket as { parser?: ParserWithBuffer | null }).parser;
  const chunk = parser?.getCurrentBuffer?.();
  if (chunk === undefined || chunk.length === 0) return true;
  const method = req.method ?? '';
  if (chunk.indexOf(`${method}  `, 0, 'latin1') < 0 && chunk.indexOf(`${url}  `, 0, 'latin1') < 0) return true;
  const text = chunk.toString('latin1');
  for (let at = text.indexOf(method); at >= 0; at = text.indexOf(method, at + 1)) {
    if (at !== 0 && text.charCodeAt(at - 1) !== 0x0a) continue;
    const eol = text.indexOf('\n', at);
    const line = text.slice(at, eol < 0 ? text.length : eol).replace(/\r$/, '');
    const parts = line.split(/ +/);
    if (parts.length === 3 && parts[0] === method && parts[1] === url && line !== parts.join(' ')) return false;
  }
  return true;
}
