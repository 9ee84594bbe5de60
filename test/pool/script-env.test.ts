// What a script sees through a real pool: hostile FastCGI parameters from cgi-fcgi (libfcgi), and
// nginx with Debian's own fastcgi_params and with examples/nginx.conf (scripts in subdirectories,
// PATH_INFO, PATH_TRANSLATED, no duplicated CONTENT_*). One rule: cgi/env-rule.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { ROOT, killAllPools, makeFixtureDir, sleep, startPool } from './harness.js';
import { fcgiRequest } from './fcgi-client.js';
import { findTool, freePort } from '../fastcgi/peers.js';

after(killAllPools);

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
const FASTCGI_PARAMS = '/etc/nginx/fastcgi_params';

/** The pool's fixtures plus: programs and a module that print what they see, in cgi-bin/ and in cgi-bin/sub/. */
function fixturesWithEnvScripts(): { dir: string; cgiBin: string } {
  const f = makeFixtureDir();
  const envSh = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv | LC_ALL=C sort\n";
  // A bash script: BASH_ENV, if it got through, would run before its first line.
  const envBash = "#!/bin/bash\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv | LC_ALL=C sort\n";
  const envMjs = "export default (request, env) => new Response(Object.keys(env).sort().map((k) => k + '=' + env[k]).join('\\n') + '\\n');\n";
  mkdirSync(join(f.cgiBin, 'sub'));
  for (const [name, text, mode] of [['env.sh', envSh, 0o755], ['sub/env.sh', envSh, 0o755], ['env-bash.sh', envBash, 0o755], ['sub/envmod.mjs', envMjs, 0o644], ['plain.txt', 'not a script\n', 0o644]] as const) {
    writeFileSync(join(f.cgiBin, name), text);
    chmodSync(join(f.cgiBin, name), mode);
  }
  writeFileSync(join(f.dir, 'evil-rc'), `touch ${join(f.dir, 'pwned')}\n`);
  return f;
}

/** KEY=value lines -> object. */
function parseEnv(body: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

const HOSTILE: Record<string, string> = {
  LD_PRELOAD: '/nonexistent/evil.so',
  LD_LIBRARY_PATH: '/nonexistent',
  PATH: '/evil/bin',
  HTTP_PROXY: 'http://evil.example:3128',
  HTTP_CONTENT_LENGTH: '999',
  HTTP_CONTENT_TYPE: 'evil/type',
  NODE_OPTIONS: '--require /nonexistent/evil.js',
  PYTHONPATH: '/nonexistent',
  PERL5OPT: '-Mevil',
  IFS: 'x',
  SHELLOPTS: 'xtrace',
  PS4: '$(touch /nonexistent)',
  HTTP_X_OK: 'kept',
};

function assertClean(env: Record<string, string>, where: string): void {
  for (const name of Object.keys(HOSTILE)) {
    if (name === 'PATH' || name === 'HTTP_X_OK') continue;
    assert.equal(env[name], undefined, `${where}: ${name} reached the script`);
  }
  assert.equal(env['BASH_ENV'], undefined, `${where}: BASH_ENV`);
  assert.equal(env['HTTP_X_OK'], 'kept', `${where}: an ordinary header variable passes`);
}

/** cgi-fcgi sends its own environment as the PARAMS: the hostile names with it. */
function cgiFcgi(tool: string, port: number, params: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-bind', '-connect', `127.0.0.1:${port}`], { env: params, stdio: ['ignore', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.on('data', (c: Buffer) => parts.push(c));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`cgi-fcgi exited with ${code}`));
      else resolve(Buffer.concat(parts).toString('utf8'));
    });
  });
}

test('cgi-fcgi sending hostile params: no loader, shell or interpreter variable, PATH from the server, no httpoxy, no HTTP_CONTENT_*', { timeout: 60_000 }, async (t) => {
  const tool = findTool('cgi-fcgi');
  if (tool === null) return t.skip('cgi-fcgi not installed (Debian: libfcgi-bin)');
  const fixtures = fixturesWithEnvScripts();
  const port = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${port}` }, fixtures);
  try {
    const common = { ...HOSTILE, BASH_ENV: join(fixtures.dir, 'evil-rc'), REQUEST_METHOD: 'GET', QUERY_STRING: '', GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1' };
    for (const script of ['env.sh', 'env-bash.sh', 'sub/envmod.mjs']) {
      const out = await cgiFcgi(tool, port, { ...common, SCRIPT_FILENAME: script });
      assert.match(out, /^content-type: text\/plain/im, out);
      const env = parseEnv(out);
      assertClean(env, script);
      if (script.endsWith('.sh')) assert.equal(env['PATH'], DEFAULT_PATH, 'PATH is the server\'s');
      else assert.equal(env['PATH'], undefined, 'a handler\'s env has no PATH from a parameter');
    }
    assert.equal(existsSync(join(fixtures.dir, 'pwned')), false, 'BASH_ENV ran');

    // A name that is not a variable name would alias one at execve ("LD_PRELOAD=/x" + "=v").
    const r = await fcgiRequest(pool.address, { SCRIPT_FILENAME: 'env.sh', 'LD_PRELOAD=/nonexistent/evil.so': 'x', DOCUMENT_ROOT: fixtures.dir, PATH_INFO: '/../../etc/passwd' });
    assert.equal(r.status, 200, r.stdout);
    const env = parseEnv(r.body);
    assert.equal(env['LD_PRELOAD'], undefined);
    assert.equal(env['PATH_TRANSLATED'], undefined, 'PATH_TRANSLATED outside DOCUMENT_ROOT is left out');
    const ok = parseEnv((await fcgiRequest(pool.address, { SCRIPT_FILENAME: 'env.sh', DOCUMENT_ROOT: fixtures.dir, PATH_INFO: '/a/b' })).body);
    assert.equal(ok['PATH_TRANSLATED'], join(fixtures.dir, 'a/b'));

    // A file that is not a script: 403, one warning that names it and says what to do.
    const from = pool.lines.length;
    assert.equal((await fcgiRequest(pool.address, { SCRIPT_FILENAME: 'plain.txt' })).status, 403);
    const line = await pool.waitFor((l) => l.msg === 'file in cgi-bin is not a script', 5000, 'not-a-script line', from);
    assert.equal(line.level, 40);
    assert.equal(line['script'], join(fixtures.cgiBin, 'plain.txt'));
    assert.match(String(line['hint']), /chmod \+x it, or name it \.mjs/);
    await sleep(100);
    assert.equal(pool.lines.slice(from).filter((l) => /not a script|script not found/.test(l.msg)).length, 1, 'logged once');
  } finally {
    await pool.close();
  }
});

function get(agent: http.Agent, port: number, path: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** A main nginx config rooted in `dir` around `server` blocks. */
function mainConfig(dir: string, body: string): string {
  const tmp = join(dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  fastcgi_temp_path ${tmp}/fastcgi;
  proxy_temp_path ${tmp}/proxy;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${body}
}
`;
}

/** Runs nginx on `conf` until `use` settles; SIGQUIT then SIGKILL, awaited. */
async function withNginx(nginx: string, dir: string, conf: string, httpPort: number, use: (agent: http.Agent) => Promise<void>): Promise<void> {
  const path = join(dir, `nginx-${httpPort}.conf`);
  writeFileSync(path, conf);
  const check = spawnSync(nginx, ['-t', '-c', path], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  const proc: ChildProcess = spawn(nginx, ['-c', path], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const deadline = Date.now() + 5000;
    while (!(await get(agent, httpPort, '/nothing').then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error('nginx did not start');
      await sleep(50);
    }
    await use(agent);
  } finally {
    agent.destroy();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.kill('SIGQUIT');
    await exited;
    clearTimeout(kill);
  }
}

test('nginx with Debian\'s fastcgi_params: scripts in subdirectories, PATH_INFO, derived PATH_TRANSLATED, no HTTP_CONTENT_*', { timeout: 60_000 }, async (t) => {
  const nginx = findTool('nginx');
  if (nginx === null) return t.skip('nginx not installed (Debian: nginx-light)');
  if (!existsSync(FASTCGI_PARAMS)) return t.skip(`${FASTCGI_PARAMS} not found (Debian's nginx-common ships it)`);
  const fixtures = fixturesWithEnvScripts();
  const poolPort = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${poolPort}` }, fixtures);
  try {
    // nginx's document root holds the pool's cgi-bin as fcgi-bin/ and split/.
    const www = join(fixtures.dir, 'www');
    mkdirSync(www);
    symlinkSync(fixtures.cgiBin, join(www, 'fcgi-bin'));
    symlinkSync(fixtures.cgiBin, join(www, 'split'));
    const cgiBin = realpathSync(fixtures.cgiBin);
    const httpPort = await freePort();
    const conf = mainConfig(fixtures.dir, `
  server {
    listen 127.0.0.1:${httpPort};
    root ${www};
    # As Debian's fastcgi.conf: the whole path in SCRIPT_FILENAME, no PATH_INFO.
    location /fcgi-bin/ {
      include ${FASTCGI_PARAMS};
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass 127.0.0.1:${poolPort};
    }
    # As PHP sites do: nginx splits, sends PATH_INFO and DOCUMENT_ROOT but no PATH_TRANSLATED.
    location /split/ {
      fastcgi_split_path_info ^(.+?\\.(?:sh|mjs))(/.*)$;
      include ${FASTCGI_PARAMS};
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_param PATH_INFO $fastcgi_path_info;
      fastcgi_pass 127.0.0.1:${poolPort};
    }
  }`);
    await withNginx(nginx, fixtures.dir, conf, httpPort, async (agent) => {
      const headers = { Proxy: 'http://evil.example:3128', 'Content-Type': 'text/plain', 'X-Ok': 'kept' };
      for (const [path, script] of [['/fcgi-bin/sub/env.sh/some/path?x=1', 'sub/env.sh'], ['/fcgi-bin/sub/envmod.mjs/some/path?x=1', 'sub/envmod.mjs'], ['/split/sub/env.sh/some/path?x=1', 'sub/env.sh']] as const) {
        const r = await get(agent, httpPort, path, 'POST', 'abc', headers);
        assert.equal(r.status, 200, `${path}: ${r.body}`);
        const env = parseEnv(r.body);
        const mount = path.startsWith('/split/') ? '/split/' : '/fcgi-bin/';
        assert.equal(env['SCRIPT_NAME'], mount + script, path);
        assert.equal(env['PATH_INFO'], '/some/path', path);
        assert.equal(env['PATH_TRANSLATED'], join(www, 'some/path'), path);
        assert.equal(env['SCRIPT_FILENAME'], join(cgiBin, script), path);
        assert.equal(env['QUERY_STRING'], 'x=1', path);
        assert.equal(env['CONTENT_LENGTH'], '3', path);
        assert.equal(env['CONTENT_TYPE'], 'text/plain', path);
        assert.equal(env['HTTP_CONTENT_LENGTH'], undefined, `${path}: §4.1.18`);
        assert.equal(env['HTTP_CONTENT_TYPE'], undefined, `${path}: §4.1.18`);
        assert.equal(env['HTTP_PROXY'], undefined, `${path}: httpoxy`);
        assert.equal(env['HTTP_X_OK'], 'kept', path);
        if (script.endsWith('.sh')) assert.equal(env['PATH'], DEFAULT_PATH, path);
      }
      // The script itself, without PATH_INFO: none is made up, nor PATH_TRANSLATED.
      const bare = parseEnv((await get(agent, httpPort, '/fcgi-bin/sub/env.sh')).body);
      assert.equal(bare['SCRIPT_NAME'], '/fcgi-bin/sub/env.sh');
      assert.equal(bare['PATH_TRANSLATED'], undefined);
      assert.equal((await get(agent, httpPort, '/fcgi-bin/sub/missing.sh/x')).status, 404);
      assert.equal((await get(agent, httpPort, '/fcgi-bin/sub')).status, 404);
    });
  } finally {
    await pool.close();
  }
});

test('examples/nginx.conf runs scripts in subdirectories with PATH_INFO', { timeout: 60_000 }, async (t) => {
  const nginx = findTool('nginx');
  if (nginx === null) return t.skip('nginx not installed (Debian: nginx-light)');
  const fixtures = fixturesWithEnvScripts();
  const poolPort = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${poolPort}` }, fixtures);
  try {
    const httpPort = await freePort();
    const site = readFileSync(join(ROOT, 'examples', 'nginx.conf'), 'utf8')
      .replace('server 127.0.0.1:9000;', `server 127.0.0.1:${poolPort};`)
      .replace('listen 8080;', `listen 127.0.0.1:${httpPort};`);
    assert.match(site, new RegExp(`127\\.0\\.0\\.1:${poolPort}`));
    await withNginx(nginx, fixtures.dir, mainConfig(fixtures.dir, site), httpPort, async (agent) => {
      const cgiBin = realpathSync(fixtures.cgiBin);
      for (const script of ['sub/env.sh', 'sub/envmod.mjs']) {
        const r = await get(agent, httpPort, `/fcgi-bin/${script}/a%20b/c?q=1`, 'GET', undefined, { Proxy: 'http://evil.example' });
        assert.equal(r.status, 200, r.body);
        const env = parseEnv(r.body);
        assert.equal(env['SCRIPT_NAME'], `/fcgi-bin/${script}`);
        assert.equal(env['PATH_INFO'], '/a b/c', 'decoded once, as under serve');
        assert.equal(env['SCRIPT_FILENAME'], join(cgiBin, script));
        assert.equal(env['QUERY_STRING'], 'q=1');
        assert.equal(env['HTTP_PROXY'], undefined);
      }
      const top = await get(agent, httpPort, '/fcgi-bin/hello.cgi/extra?x=1');
      assert.equal(top.body, 'hello x=1\n');
      assert.equal((await get(agent, httpPort, '/fcgi-bin/sub/nothing.sh/x')).status, 404);
      assert.equal((await get(agent, httpPort, '/fcgi-bin/plain.txt')).status, 403);
    });
  } finally {
    await pool.close();
  }
});
