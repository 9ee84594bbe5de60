// The hostile HTTP request table: smuggling pairs, bad framing, bad bytes, traversal, bad request lines.
export interface HttpCase {
  readonly group: string;
  readonly name: string;
  readonly request: string;
  /** Every status the case may end with (more than one where RFC 9112 allows either). */
  readonly expect: readonly number[];
  /** Refused by the front's parser or request-line check: one 'malformed request' line each. */
  readonly front: boolean;
}

/** One route of each kind; the hostile forms are tried on each. */
export const ROUTES = [
  { kind: 'static', path: '/index.html' },
  { kind: 'cgi', path: '/cgi-bin/hello.sh' },
  { kind: 'fastcgi', path: '/fcgi-bin/hello.sh' },
] as const;

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

/** Message framing a proxy and the front could read differently (RFC 9112 §6.1, §6.3). */
function smuggling(path: string): Array<[string, string]> {
  const chunk = `0\r\n\r\n${SMUGGLED}`;
  return [
    ['CL+TE', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${chunk.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`],
    ['TE+CL', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE xchunked', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE chunked, then identity', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n${chunk}`],
    ['TE identity, chunked', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE chunked, identity', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n${chunk}`],
    ['TE with space before colon', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE with vertical tab', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0bchunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE folded', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE quoted', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "chunked"\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE in HTTP/1.0', `POST ${path} HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE with NUL', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x00\r\nContent-Length: 4\r\n\r\n${chunk}`],
    ['TE name with underscore (a plain header, CL frames)', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent-Length: ${chunk.length}\r\n\r\n${chunk}`],
    ['duplicate CL, different', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: ${4 + SMUGGLED.length}\r\n\r\nabcd${SMUGGLED}`],
    ['CL list', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4, ${4 + SMUGGLED.length}\r\n\r\nabcd${SMUGGLED}`],
    ['CL plus sign', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd${SMUGGLED}`],
    ['CL negative', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nabcd${SMUGGLED}`],
    ['CL hex', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0x4\r\n\r\nabcd${SMUGGLED}`],
    ['CL overflow', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551620\r\n\r\nabcd${SMUGGLED}`],
    ['CL with space inside', `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4 4\r\n\r\nabcd${SMUGGLED}`],
    ['chunk size overflow', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nabcd\r\n0\r\n\r\n`],
    ['chunk size with LF only', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n${SMUGGLED}`],
    ['chunk extension with CR', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;a\rb\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`],
    ['chunk data longer than size', `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`],
  ];
}

/** Names and values carrying bytes RFC 9110 §5.1, §5.5 forbid, folds (RFC 9112 §5.2), sizes. */
function badBytes(path: string): Array<[string, string, readonly number[]]> {
  const head = (h: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${h}\r\nConnection: close\r\n\r\n`;
  return [
    ['NUL in a name', head('X-A\x00b: c'), [400]],
    ['NUL in a value', head('X-A: b\x00c'), [400]],
    ['CR in a name', head('X-A\rb: c'), [400]],
    ['bare CR in a value', head('X-A: b\rc'), [400]],
    ['LF in a name', head('X-A\nb: c'), [400]],
    ['space before colon', head('X-A : c'), [400]],
    ['empty name', head(': c'), [400]],
    ['name of separators', head('X(A): c'), [400]],
    ['DEL in a value', head('X-A: b\x7fc'), [400]],
    ['obs-fold', head('X-A: b\r\n  c'), [200, 400]],
    ['obs-fold on the first line', `GET ${path} HTTP/1.1\r\n Host: x\r\nConnection: close\r\n\r\n`, [400]],
    ['header without colon', head('X-A b'), [400]],
    ['one header of 20 KB', head(`X-Big: ${'a'.repeat(20_000)}`), [431]],
    ['200 headers of 100 bytes', head(Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'b'.repeat(95)}`).join('\r\n')), [431]],
    ['2,500 tiny headers', head(Array.from({ length: 2500 }, (_, i) => `a${i}:`).join('\r\n')), [200, 431]],
    ['a name of 20 KB', head(`${'N'.repeat(20_000)}: v`), [431]],
    ['two Host', `GET ${path} HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n`, [400]],
    ['no Host in HTTP/1.1', `GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`, [400]],
  ];
}

/** Request lines: versions (RFC 9112 §2.3), whitespace (§3), forms of the target (§3.2). */
function requestLines(path: string): Array<[string, string, readonly number[], boolean]> {
  const tail = '\r\nHost: x\r\nConnection: close\r\n\r\n';
  return [
    ['HTTP/2.0', `GET ${path} HTTP/2.0${tail}`, [505], true],
    ['HTTP/3.0', `GET ${path} HTTP/3.0${tail}`, [505], true],
    ['HTTP/1.2', `GET ${path} HTTP/1.2${tail}`, [505], true],
    ['HTTP/0.9 named', `GET ${path} HTTP/0.9${tail}`, [505], true],
    ['no version (HTTP/0.9)', `GET ${path}\r\n\r\n`, [505], true],
    ['lower-case version', `GET ${path} http/1.1${tail}`, [400], true],
    ['HTTP/1.1 with a letter', `GET ${path} HTTP/1.1x${tail}`, [400], true],
    ['HTTP/11', `GET ${path} HTTP/11${tail}`, [400], true],
    ['double space before target', `GET  ${path} HTTP/1.1${tail}`, [400], true],
    ['double space after target', `GET ${path}  HTTP/1.1${tail}`, [400], true],
    ['tab after method', `GET\t${path} HTTP/1.1${tail}`, [400], true],
    ['space before CRLF', `GET ${path} HTTP/1.1 ${tail}`, [400], true],
    ['space in target', `GET ${path} x HTTP/1.1${tail}`, [400], true],
    ['lower-case method', `get ${path} HTTP/1.1${tail}`, [400], true],
    ['unknown method', `BREW ${path} HTTP/1.1${tail}`, [400], true],
    ['CONNECT', `CONNECT x:443 HTTP/1.1${tail}`, [501], true],
    ['absolute form', `GET http://example.org${path} HTTP/1.1${tail}`, [200], false],
    ['absolute form with port and query', `GET http://example.org:8080${path}?a=1 HTTP/1.1${tail}`, [200], false],
    ['absolute form, upper-case scheme', `GET HTTP://example.org${path} HTTP/1.1${tail}`, [200], false],
    ['absolute form, https', `GET https://example.org${path} HTTP/1.1${tail}`, [200], false],
    ['absolute form in HTTP/1.0 without Host', `GET http://example.org${path} HTTP/1.0\r\n\r\n`, [200], false],
    ['absolute form with userinfo', `GET http://u:p@example.org${path} HTTP/1.1${tail}`, [400], true],
    ['absolute form, empty host', `GET http://${path} HTTP/1.1${tail}`, [400], true],
    ['absolute form, ftp', `GET ftp://example.org${path} HTTP/1.1${tail}`, [400], true],
    ['relative target', `GET ${path.slice(1)} HTTP/1.1${tail}`, [400], true],
  ];
}

/** Traversal forms (RFC 3986 §5.2.4 dot segments and their encodings) under a route's prefix. */
function traversal(prefix: string): Array<[string, string]> {
  const forms = [
    '../secret.txt', '../../secret.txt', '%2e%2e/secret.txt', '%2E%2E%2Fsecret.txt', '..%2fsecret.txt', '..%5csecret.txt',
    '.%2e/secret.txt', '%252e%252e/secret.txt', '%c0%ae%c0%ae/secret.txt', '..;/secret.txt', '....//secret.txt', '..\\secret.txt',
    'x/../../secret.txt', '%00../secret.txt', './../secret.txt', '..%00/secret.txt',
    '%2e%2e%2f%2e%2e%2fsecret.txt', '..%252fsecret.txt', '%u002e%u002e/secret.txt', '..',
  ];
  const out: Array<[string, string]> = [];
  for (const method of ['GET', 'HEAD']) {
    for (const f of forms) out.push([`${method} ${f}`, `${method} ${prefix}${f} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
  }
  return out;
}

export function httpCases(): HttpCase[] {
  const out: HttpCase[] = [];
  for (const route of ROUTES) {
    for (const [name, request] of smuggling(route.path)) {
      // A body the static route never reads (it answers 405 to POST and closes) cannot desync it;
      // an unknown header name is no framing at all: the route answers and nothing is smuggled.
      const expect = name.startsWith('TE name') ? [200, 405] : route.kind === 'static' && name.startsWith('chunk') ? [400, 405] : [400];
      out.push({ group: 'smuggling', name: `${name} ${route.kind}`, request, expect, front: true });
    }
    for (const [name, request, expect] of badBytes(route.path)) out.push({ group: 'header bytes and sizes', name: `${name} ${route.kind}`, request, expect, front: expect.includes(400) || expect.includes(431) });
    for (const [name, request, expect, front] of requestLines(route.path)) out.push({ group: 'request line', name: `${name} ${route.kind}`, request, expect, front });
    const prefix = route.kind === 'static' ? '/' : route.path.slice(0, route.path.lastIndexOf('/') + 1);
    for (const [name, request] of traversal(prefix)) out.push({ group: 'traversal', name: `${name} ${route.kind}`, request, expect: [400, 403, 404], front: false });
  }
  return out;
}
