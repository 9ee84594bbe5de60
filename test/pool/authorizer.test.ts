// The pool as a FastCGI Authorizer (FastCGI 1.0 §6.3) for lighttpd's mod_fastcgi "authorizer" mode.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { killAllPools, makeFixtureDir, sleep, startPool, type PoolProcess } from './harness.js';
import { authorizerFieldName } from '../../src/pool/authorize.js';

after(killAllPools);

const AUTH_MODULE = `export default {
  fetch: () => new Response('not an authorizer answer\\n'),
  authorize: (request, env) => request.headers.get('authorization') === 'Bearer good'
    ? new Response(null, { status: 200, headers: { 'Variable-AUTH_USER_ID': 'alice', 'Variable-AUTH_ROLE': env.FCGI_ROLE ?? 'module' } })
    : new Response('go away\\n', { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="t"', 'Content-Type': 'text/plain' } }),
};\n`;
const AUTH_PROGRAM = `#!/bin/sh
if [ "$FCGI_ROLE" = AUTHORIZER ] && [ "$HTTP_AUTHORIZATION" = "Bearer good" ]; then
  printf 'Status: 200 OK\\r\\nVariable-AUTH_USER_ID: bob\\r\\nVariable-AUTH_ROLE: %s\\r\\n\\r\\n' "$FCGI_ROLE"
else
  printf 'Status: 403 Forbidden\\r\\nContent-Type: text/plain\\r\\n\\r\\nrole=%s no\\n' "$FCGI_ROLE"
fi
`;
/** The protected program lighttpd runs (mod_cgi) once the authorizer said yes. */
const PROTECTED = `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nuser=%s role=%s\\n' "$AUTH_USER_ID" "$AUTH_ROLE"\n`;

function findLighttpd(): string | null {
  for (const bin of ['lighttpd', '/usr/sbin/lighttpd']) if (spawnSync(bin, ['-v']).status === 0) return bin;
  return null;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function get(url: string, auth?: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { headers: auth === undefined ? {} : { authorization: auth }, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

test('authorizer field names: Variable- prefix kept, the name upper-cased; others unchanged', () => {
  assert.equal(authorizerFieldName('variable-auth_user'), 'Variable-AUTH_USER');
  assert.equal(authorizerFieldName('www-authenticate'), 'www-authenticate');
});

test('lighttpd mod_fastcgi in authorizer mode asks the pool: a module authorize() and a program with FCGI_ROLE=AUTHORIZER', { timeout: 60_000 }, async (t) => {
  const lighttpd = findLighttpd();
  if (lighttpd === null) return t.skip('lighttpd not installed (Debian package lighttpd)');
  const fixtures = makeFixtureDir();
  writeFileSync(join(fixtures.cgiBin, 'auth.mjs'), AUTH_MODULE);
  writeFileSync(join(fixtures.cgiBin, 'auth.cgi'), AUTH_PROGRAM);
  chmodSync(join(fixtures.cgiBin, 'auth.cgi'), 0o755);
  const docroot = join(fixtures.dir, 'www');
  for (const area of ['by-module', 'by-program', 'by-fetch-only']) {
    mkdirSync(join(docroot, area), { recursive: true });
    writeFileSync(join(docroot, area, 'who.cgi'), PROTECTED);
    chmodSync(join(docroot, area, 'who.cgi'), 0o755);
    writeFileSync(join(docroot, area, 'file.txt'), `static in ${area}\n`);
  }
  const ports = { module: await freePort(), program: await freePort(), fetchOnly: await freePort(), http: await freePort() };
  const pools: PoolProcess[] = [];
  let proc: ChildProcess | null = null;
  try {
    pools.push(await startPool({ workers: 1, listen: `127.0.0.1:${ports.module}`, extraArgs: ['--authorizer-script', 'auth.mjs'] }, fixtures));
    pools.push(await startPool({ workers: 1, listen: `127.0.0.1:${ports.program}`, extraArgs: ['--authorizer-script', 'auth.cgi'] }, fixtures));
    pools.push(await startPool({ workers: 1, listen: `127.0.0.1:${ports.fetchOnly}`, extraArgs: ['--authorizer-script', 'counter.mjs'] }, fixtures));
    const authorizer = (port: number): string => `(( "host" => "127.0.0.1", "port" => ${port}, "mode" => "authorizer" ))`;
    const conf = join(fixtures.dir, 'lighttpd.conf');
    writeFileSync(conf, `server.document-root = "${docroot}"
server.bind = "127.0.0.1"
server.port = ${ports.http}
server.errorlog = "${join(fixtures.dir, 'lighttpd-error.log')}"
server.modules = ("mod_fastcgi", "mod_cgi")
cgi.assign = (".cgi" => "")
fastcgi.server = (
  "/by-module/" => ${authorizer(ports.module)},
  "/by-program/" => ${authorizer(ports.program)},
  "/by-fetch-only/" => ${authorizer(ports.fetchOnly)},
)
`);
    proc = spawn(lighttpd, ['-D', '-f', conf], { stdio: 'ignore' });
    const base = `http://127.0.0.1:${ports.http}`;
    const deadline = Date.now() + 5000;
    while (!(await get(`${base}/nothing`).then(() => true, () => false))) {
      assert.ok(Date.now() < deadline, `lighttpd did not start: ${readFileSync(join(fixtures.dir, 'lighttpd-error.log'), 'utf8')}`);
      await sleep(50);
    }

    // Refused: the authorizer's own answer reaches the client, status, headers and body.
    const refused = await get(`${base}/by-module/file.txt`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="t"');
    assert.equal(refused.body, 'go away\n');
    // Allowed: the static file, and a program that sees the Variable-* values as meta-variables.
    assert.equal((await get(`${base}/by-module/file.txt`, 'Bearer good')).body, 'static in by-module\n');
    const who = await get(`${base}/by-module/who.cgi`, 'Bearer good');
    assert.equal(who.status, 200);
    assert.equal(who.body, 'user=alice role=module\n');

    // A program answers for the Authorizer role when started with FCGI_ROLE=AUTHORIZER.
    const no = await get(`${base}/by-program/who.cgi`);
    assert.equal(no.status, 403);
    assert.equal(no.body, 'role=AUTHORIZER no\n');
    assert.equal((await get(`${base}/by-program/who.cgi`, 'Bearer good')).body, 'user=bob role=AUTHORIZER\n');

    // A module without authorize() cannot let anything through: 500, one log line.
    assert.equal((await get(`${base}/by-fetch-only/file.txt`, 'Bearer good')).status, 500);
    await pools[2]!.waitFor((l) => /cannot answer FastCGI Authorizer requests/.test(JSON.stringify(l['err'] ?? '')), 5000, 'no-authorize log line');
  } finally {
    if (proc !== null && proc.exitCode === null) {
      const exited = new Promise((resolve) => proc!.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc!.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all(pools.map((p) => p.close()));
  }
});
