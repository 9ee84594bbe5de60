// --fastcgi-read-timeout: parsed from the command line, and carried to the /fcgi-bin/ client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { serveConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';
import { buildMounts } from '../../src/mounts.js';
import { createFront, type Front } from '../../src/http/server.js';
import { fetchRaw } from '../cgi/harness.js';
import { listenResponder } from './helpers.js';

const log = pino({ level: 'silent' });

test('--fastcgi-read-timeout: seconds, 60 by default, 0 for never, bad usage otherwise', () => {
  assert.equal(serveConfig({ flags: {}, env: {} }).fastcgiReadTimeoutMs, 60_000);
  assert.equal(serveConfig({ flags: { fastcgiReadTimeout: '2.5' }, env: {} }).fastcgiReadTimeoutMs, 2500);
  assert.equal(serveConfig({ flags: {}, env: { FORKFAST_FASTCGI_READ_TIMEOUT: '0' } }).fastcgiReadTimeoutMs, 0);
  assert.throws(() => serveConfig({ flags: { fastcgiReadTimeout: 'soon' }, env: {} }), UsageError);
});

test('serve with --upstream and --fastcgi-read-timeout 0.3: a silent upstream is a 504 after about 0.3 s', { timeout: 20_000 }, async () => {
  const silent = await listenResponder({ onRequest: () => {} }); // accepts, never answers
  const config = serveConfig({ flags: { upstream: [`127.0.0.1:${silent.port}`], fastcgiReadTimeout: '0.3' }, env: {} });
  const built = await buildMounts(config, log, 'test');
  let front: Front | null = null;
  try {
    front = createFront({ mounts: built.mounts, log, limits: config.limits });
    const where = await front.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const t0 = performance.now();
    const r = await fetchRaw(where.port ?? 0, '/fcgi-bin/hello.mjs', { timeoutMs: 10_000 });
    const ms = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms >= 290 && ms < 3000, `504 after ${ms.toFixed(0)} ms`);
  } finally {
    if (front !== null) await front.close(2000);
    await built.close();
    await silent.close();
  }
});
