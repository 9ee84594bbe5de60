// serve --authorizer: a FastCGI Authorizer (§6.3) guards static files, /cgi-bin/ and /fcgi-bin/;
// tested against a Perl FCGI authorizer (libfcgi-perl) and against forkfast's own pool.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../helpers/server.js';
import { killAllPools, makeFixtureDir, startPool } from '../pool/harness.js';

after(killAllPools);

/** Allows "Bearer good" as perl-user, refuses anything else with 401; logs what it was sent. */
const PERL_AUTHORIZER = `use strict; use warnings; use FCGI;
my ($addr, $log) = @ARGV;
my $socket = FCGI::OpenSocket($addr, 16);
my %env;
my $req = FCGI::Request(\\*STDIN, \\*STDOUT, \\*STDERR, \\%env, $socket);
$| = 1;
while ($req->Accept() >= 0) {
  open(my $fh, '>>', $log); print $fh join(' ', 'role=' . ($env{FCGI_ROLE} // ''), map { "$_=" . ($env{$_} // '-') } qw(REQUEST_URI CONTENT_LENGTH SCRIPT_NAME PATH_INFO)), "\\n"; close($fh);
  my $body = ''; while (read(STDIN, my $buf, 4096)) { $body .= $buf; }
  if (($env{HTTP_AUTHORIZATION} // '') eq 'Bearer good') {
    print "Status: 200\\r\\nVariable-AUTH_USER_ID: perl-user\\r\\nVariable-AUTH_BODY_SEEN: " . length($body) . "\\r\\n\\r\\n";
  } else {
    print "Status: 401 Unauthorized\\r\\nWWW-Authenticate: Bearer realm=\\"perl\\"\\r\\nContent-Type: text/plain\\r\\n\\r\\nperl says no\\n";
  }
  $req->Finish();
}
`;
const WHO_CGI = `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nuser=%s seen=%s\\n' "$AUTH_USER_ID" "$AUTH_BODY_SEEN"\n`;
const WHO_MJS = `export default (request, env) => new Response('module user=' + (env.AUTH_USER_ID ?? '') + '\\n');\n`;
const AUTH_MJS = `export const authorize = (request) => request.headers.get('authorization') === 'Bearer good'
  ? new Response(null, { status: 200, headers: { 'Variable-AUTH_USER_ID': 'pool-user' } })
  : new Response('pool says no\\n', { status: 403, headers: { 'content-type': 'text/plain' } });
export default () => new Response('unused\\n');\n`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

function siteDir(): { dir: string; cgiBin: string; pub: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ff-authz-'));
  const cgiBin = join(dir, 'cgi-bin');
  const pub = join(dir, 'public');
  mkdirSync(cgiBin);
  mkdirSync(join(pub, 'private'), { recursive: true });
  writeFileSync(join(pub, 'private', 'file.txt'), 'private static\n');
  writeFileSync(join(pub, 'open.txt'), 'open static\n');
  writeFileSync(join(cgiBin, 'who.cgi'), WHO_CGI);
  chmodSync(join(cgiBin, 'who.cgi'), 0o755);
  writeFileSync(join(cgiBin, 'who.mjs'), WHO_MJS);
  return { dir, cgiBin, pub };
}

test('serve --authorizer with a Perl FCGI authorizer: static, /cgi-bin/ and /fcgi-bin/ guarded, variables passed, no body sent', { timeout: 60_000 }, async (t) => {
  if (spawnSync('perl', ['-MFCGI', '-e', '1']).status !== 0) return t.skip('perl FCGI module not installed (Debian package libfcgi-perl)');
  const site = siteDir();
  const port = await freePort();
  const log = join(site.dir, 'authorizer.log');
  writeFileSync(join(site.dir, 'authz.pl'), PERL_AUTHORIZER);
  const perl: ChildProcess = spawn('perl', [join(site.dir, 'authz.pl'), `127.0.0.1:${port}`, log], { stdio: 'ignore' });
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    await waitForPort(port, 5000);
    server = await startServer(['--cgi-bin', site.cgiBin, '--public', site.pub, '--workers', '1',
      '--authorizer', `/private/=127.0.0.1:${port}`, '--authorizer', `/cgi-bin/=127.0.0.1:${port}`, '--authorizer', `/fcgi-bin/=127.0.0.1:${port}`]);
    const base = server.url;
    // Outside every prefix: no question asked.
    assert.equal((await get(`${base}/open.txt`)).body, 'open static\n');
    // Refused: the authorizer's answer, as it wrote it.
    const no = await get(`${base}/private/file.txt`);
    assert.equal(no.status, 401);
    assert.equal(no.headers.get('www-authenticate'), 'Bearer realm="perl"');
    assert.equal(no.body, 'perl says no\n');
    const good = { authorization: 'Bearer good' };
    assert.equal((await get(`${base}/private/file.txt`, { headers: good })).body, 'private static\n');
    // The Variable-* values reach a CGI program and a resident module as meta-variables.
    const cgi = await get(`${base}/cgi-bin/who.cgi`, { method: 'POST', headers: good, body: 'x'.repeat(5000) });
    assert.equal(cgi.body, 'user=perl-user seen=0\n');
    assert.equal((await get(`${base}/fcgi-bin/who.mjs`, { headers: good })).body, 'module user=perl-user\n');
    assert.equal((await get(`${base}/fcgi-bin/who.mjs`)).status, 401);
    // §6.3: the Authorizer role, and no CONTENT_LENGTH, SCRIPT_NAME or PATH_INFO.
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.ok(lines.length >= 5, lines.join('\n'));
    for (const line of lines) assert.match(line, /^role=AUTHORIZER REQUEST_URI=\/\S+ CONTENT_LENGTH=- SCRIPT_NAME=- PATH_INFO=-$/);
  } finally {
    if (server !== null) await server.stop();
    perl.kill('SIGKILL');
    rmSync(site.dir, { recursive: true, force: true });
  }
});

test('serve --authorizer with forkfast pool as the authorizer (a module authorize())', { timeout: 60_000 }, async () => {
  const site = siteDir();
  const fixtures = makeFixtureDir();
  writeFileSync(join(fixtures.cgiBin, 'auth.mjs'), AUTH_MJS);
  const port = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${port}`, extraArgs: ['--authorizer-script', 'auth.mjs'] }, fixtures);
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    server = await startServer(['--cgi-bin', site.cgiBin, '--public', site.pub, '--workers', '1', '--authorizer', `/private/=127.0.0.1:${port}`, '--authorizer', `/cgi-bin/=127.0.0.1:${port}`]);
    const no = await get(`${server.url}/cgi-bin/who.cgi`);
    assert.equal(no.status, 403);
    assert.equal(no.body, 'pool says no\n');
    const yes = await get(`${server.url}/cgi-bin/who.cgi`, { headers: { authorization: 'Bearer good' } });
    assert.equal(yes.body, 'user=pool-user seen=\n');
    assert.equal((await get(`${server.url}/private/file.txt`, { headers: { authorization: 'Bearer good' } })).body, 'private static\n');
  } finally {
    if (server !== null) await server.stop();
    await pool.close();
    rmSync(site.dir, { recursive: true, force: true });
  }
});
