// What a resident handler's Request and Response cost, platform objects against the light ones (issue 6).
// Usage: node dist/test/measure/fetch-objects.js [iterations=200000]
//
// Each row runs in this one process, after a warm-up of a tenth of the iterations, so the rows are
// comparable with each other (not with another machine). The light classes are used directly,
// not installed as globals, so the platform rows keep the platform objects.
import { Readable } from 'node:stream';
import { requestFromCgi, sendCgiResponse, type CgiEnv, type CgiSink } from '../../src/app/handler.js';
import { lightRequestFromCgi } from '../../src/app/light-request.js';
import { LightResponse, lightParts } from '../../src/app/light-response.js';

const iterations = Number(process.argv[2] ?? 200_000);
if (!(iterations > 0)) {
  process.stderr.write('usage: fetch-objects.js [iterations > 0]\n');
  process.exit(2);
}

/** What nginx's fastcgi_params and wrk give a handler, roughly. */
const ENV: CgiEnv = {
  REQUEST_METHOD: 'GET', REQUEST_URI: '/fcgi-bin/hello.mjs?x=1', QUERY_STRING: 'x=1', SCRIPT_NAME: '/fcgi-bin/hello.mjs',
  SERVER_NAME: 'localhost', SERVER_PORT: '8080', SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1',
  HTTP_HOST: 'localhost:8080', HTTP_USER_AGENT: 'wrk', HTTP_ACCEPT: '*/*', HTTP_ACCEPT_ENCODING: 'gzip', HTTP_CONNECTION: 'keep-alive',
};
const INIT = { headers: { 'content-type': 'text/plain' } };
const Light = LightResponse as unknown as typeof Response;

/** A sink that takes a whole response and drops it (what the FastCGI request does, minus the socket). */
const sink: CgiSink = {
  endWith(): void {},
  get stdout(): never {
    throw new Error('this bench expects whole bodies');
  },
};

async function time(label: string, fn: () => unknown): Promise<void> {
  const warm = Math.max(1, Math.floor(iterations / 10));
  for (let i = 0; i < warm; i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await fn();
  const micros = Number(process.hrtime.bigint() - start) / 1000 / iterations;
  process.stdout.write(`${label.padEnd(58)} ${micros.toFixed(2).padStart(7)} µs\n`);
}

process.stdout.write(`node ${process.version}, ${iterations} iterations per row\n\n`);
await time('platform Request (requestFromCgi) + url', () => requestFromCgi(ENV, null).url);
await time('light Request + url', () => lightRequestFromCgi(ENV, null).url);
await time('platform new Response(string, init)', () => new Response('hello from x\n', INIT));
await time('light new Response(string, init)', () => new Light('hello from x\n', INIT));
await time('platform Response read through a reader (sendCgiResponse)', () => sendCgiResponse(new Response('hello from x\n', INIT), sink));
await time('platform Response + arrayBuffer()', () => new Response('hello from x\n', INIT).arrayBuffer());
await time('light Response + lightParts (what a worker does)', () => lightParts(new Light('hello from x\n', INIT)));
await time('light Response written (sendCgiResponse)', () => sendCgiResponse(new Light('hello from x\n', INIT), sink));
await time('platform Request with a body, text()', () => requestFromCgi({ ...ENV, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '5' }, Readable.from([Buffer.from('hello')])).text());
await time('light Request with a body, text()', () => lightRequestFromCgi({ ...ENV, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '5' }, Readable.from([Buffer.from('hello')])).text());
