// What building a script's variables costs per request, before and after a change, side by side.
// Usage: node dist/test/measure/env-builders.js [before-env.js] [iterations=200000] [rounds=7]
//
// `before-env.js` is a compiled cgi/env.js of another revision (git show REV:src/cgi/env.ts, built
// with tsc); without it only the current builders run. The pool rows compare the current
// pool/script-env with the previous inline copies kept below. Rounds interleave the rows, so a
// busy moment of a shared machine falls on all of them; the medians are what to compare.
import { pathToFileURL } from 'node:url';
import { buildMetaVariables, type MetaInput, type MetaVariables } from '../../src/cgi/env.js';
import { scriptEnv } from '../../src/pool/script-env.js';
import type { LocatedScript } from '../../src/pool/script.js';

const beforePath = process.argv[2] && process.argv[2].endsWith('.js') ? process.argv[2] : null;
const rest = beforePath === null ? process.argv.slice(2) : process.argv.slice(3);
const iterations = Number(rest[0] ?? 200_000);
const rounds = Number(rest[1] ?? 7);

/** A browser-like request at the front. */
const INPUT: MetaInput = {
  method: 'GET', target: '/cgi-bin/hello.sh/x?a=1', query: 'a=1', httpVersion: '1.1',
  rawHeaders: ['Host', 'localhost:8080', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64)', 'Accept', 'text/html,*/*;q=0.8', 'Accept-Language', 'en-US,en;q=0.5',
    'Accept-Encoding', 'gzip, deflate, br', 'Connection', 'keep-alive', 'Cookie', 'a=1', 'Cookie', 'b=2', 'Upgrade-Insecure-Requests', '1', 'Cache-Control', 'max-age=0'],
  remoteAddress: '::ffff:127.0.0.1', remotePort: 40000, localAddress: '::ffff:127.0.0.1', localPort: 8080, tls: false,
  script: { scriptName: '/cgi-bin/hello.sh', pathInfo: '/x', filename: '/srv/cgi-bin/hello.sh' },
  documentRoot: '/srv/public', serverSoftware: 'forkfast/0.1.0', contentLength: null, passAuthorization: false,
  extra: { PATH: '/usr/local/bin:/usr/bin:/bin' },
};

/** What nginx sends with Debian's fastcgi_params and the same browser headers. */
const PARAMS = new Map<string, string>(Object.entries({
  QUERY_STRING: 'a=1', REQUEST_METHOD: 'GET', CONTENT_TYPE: '', CONTENT_LENGTH: '', SCRIPT_NAME: '/fcgi-bin/hello.mjs',
  REQUEST_URI: '/fcgi-bin/hello.mjs?a=1', DOCUMENT_URI: '/fcgi-bin/hello.mjs', DOCUMENT_ROOT: '/var/www/html', SERVER_PROTOCOL: 'HTTP/1.1',
  REQUEST_SCHEME: 'http', GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: 'nginx/1.22.1', REMOTE_ADDR: '127.0.0.1', REMOTE_PORT: '40000',
  REMOTE_USER: '', SERVER_ADDR: '127.0.0.1', SERVER_PORT: '8080', SERVER_NAME: 'localhost', REDIRECT_STATUS: '200', SCRIPT_FILENAME: 'hello.mjs',
  HTTP_HOST: 'localhost', HTTP_USER_AGENT: 'Mozilla/5.0 (X11; Linux x86_64)', HTTP_ACCEPT: 'text/html,*/*;q=0.8', HTTP_ACCEPT_LANGUAGE: 'en-US,en;q=0.5',
  HTTP_ACCEPT_ENCODING: 'gzip, deflate, br', HTTP_CONNECTION: 'keep-alive', HTTP_COOKIE: 'a=1; b=2', HTTP_UPGRADE_INSECURE_REQUESTS: '1', HTTP_CACHE_CONTROL: 'max-age=0',
}));
const SCRIPT: LocatedScript = { ok: true, file: '/srv/cgi-bin/hello.mjs', dir: '/srv/cgi-bin', kind: 'module', pathInfo: null };
const EXTRA = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/** The handler env before the one rule (pool/module.ts envOf). */
function handlerEnvBefore(params: ReadonlyMap<string, string>, file: string): Record<string, string> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of params) if (k !== 'HTTP_PROXY') env[k] = v;
  env['SCRIPT_FILENAME'] = file;
  return Object.freeze(env);
}

/** The program env before the one rule (pool/program.ts). */
function programEnvBefore(params: ReadonlyMap<string, string>, file: string): Record<string, string> {
  const env: Record<string, string> = { ...EXTRA };
  for (const [k, v] of params) env[k] = v;
  delete env['HTTP_PROXY'];
  env['SCRIPT_FILENAME'] = file;
  return env;
}

/** Reads what a handler or the encoder reads, so an object's shape counts as well as its making. */
let sink = 0;
function use(env: Record<string, string>): void {
  sink += (env['REQUEST_METHOD']?.length ?? 0) + (env['HTTP_HOST']?.length ?? 0) + (env['QUERY_STRING']?.length ?? 0) + Object.keys(env).length;
}

type Row = readonly [string, () => void];
const rows: Row[] = [];
if (beforePath !== null) {
  const before = (await import(pathToFileURL(beforePath).href)) as { buildMetaVariables: (i: MetaInput) => MetaVariables };
  rows.push(['front meta-variables, before', () => use(before.buildMetaVariables(INPUT))]);
}
rows.push(['front meta-variables, now', () => use(buildMetaVariables(INPUT))]);
rows.push(['pool handler env, before', () => use(handlerEnvBefore(PARAMS, SCRIPT.file))]);
rows.push(['pool handler env, now', () => use(Object.freeze(scriptEnv(PARAMS, SCRIPT, false)))]);
rows.push(['pool program env, before', () => use(programEnvBefore(PARAMS, SCRIPT.file))]);
rows.push(['pool program env, now', () => use(scriptEnv(PARAMS, SCRIPT, false, EXTRA))]);

const samples = new Map<string, number[]>(rows.map(([name]) => [name, []]));
for (const [, fn] of rows) for (let i = 0; i < iterations / 10; i++) fn();
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of rows) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.get(name)!.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines = ['| builder | ns per request (median) | range |', '|---|---:|---|'];
for (const [name] of rows) {
  const xs = samples.get(name)!;
  lines.push(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} |`);
}
process.stdout.write(lines.join('\n') + `\n(${iterations} iterations x ${rounds} rounds; checksum ${sink % 997})\n`);
