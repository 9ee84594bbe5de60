// `forkfast top` in a real terminal (tmux): renders the workers under load, quits on q, says when
// the target is unreachable.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { cliPath, startServer, type RunningServer } from '../helpers/server.js';
import { findTool, freePort } from '../fastcgi/peers.js';

const servers: RunningServer[] = [];
const sessions: string[] = [];
after(async () => {
  for (const s of sessions) spawnSync('tmux', ['kill-session', '-t', s]);
  await Promise.all(servers.map((s) => s.stop()));
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts `forkfast top target` in a detached tmux session. The pane's shell prints top's exit status
 * and stays (the session is killed after the test): tmux's own #{pane_dead_status} stays empty on
 * some machines (the pane's process is left unreaped), so it cannot be relied on.
 */
function startTop(name: string, target: string): void {
  tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '30', `${process.execPath} ${cliPath} top ${target}; echo "top exited with status $?"; sleep 60`);
  sessions.push(name);
  tmux('set-option', '-t', name, 'remain-on-exit', 'on');
}

async function waitForPane(name: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let pane = '';
  while (Date.now() < deadline) {
    pane = tmux('capture-pane', '-p', '-t', name);
    if (pattern.test(pane)) return pane;
    await sleep(100);
  }
  throw new Error(`the pane never showed ${pattern}:\n${pane}`);
}

test('top shows one row per worker with its requests under load, and q quits and restores the terminal', { timeout: 60_000 }, async (t) => {
  if (findTool('tmux') === null) return t.skip('tmux not installed');
  const s = await startServer(['--workers', '2']);
  servers.push(s);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let loading = true;
  const load = (async () => {
    while (loading) {
      await new Promise<void>((resolve) => http.get(`${s.url}/fcgi-bin/hello.mjs`, { agent }, (res) => res.resume().on('end', resolve)).on('error', () => resolve()));
    }
  })();
  try {
    const name = `ff-top-${process.pid}`;
    startTop(name, `${s.url}/-/status`);
    const pane = await waitForPane(name, /requests [1-9]\d*/, 15_000);
    const status = JSON.parse(await (await fetch(`${s.url}/-/status?json&full`)).text()) as { processes: Array<{ pid: number }> };
    for (const p of status.processes) assert.match(pane, new RegExp(`^\\s*${p.pid}\\s+\\d+\\s+(Idle|Running)`, 'm'), `a row for worker ${p.pid}:\n${pane}`);
    assert.match(pane, /PID\s+WORKER\s+STATE\s+REQS\s+REQ\/S/);
    assert.match(pane, /cgi children \d+ running/);
    tmux('send-keys', '-t', name, 'q');
    assert.match(await waitForPane(name, /top exited with status \d+/, 5000), /top exited with status 0$/m);
    // Back on the normal screen: the table was on the alternate screen and is gone.
    assert.doesNotMatch(tmux('capture-pane', '-p', '-t', name), /PID\s+WORKER/);
    assert.equal(tmux('display-message', '-p', '-t', name, '#{alternate_on}').trim(), '0');
  } finally {
    loading = false;
    await load;
    agent.destroy();
  }
});

test('top says clearly when its target cannot be reached, and Ctrl-C quits', { timeout: 30_000 }, async (t) => {
  if (findTool('tmux') === null) return t.skip('tmux not installed');
  const port = await freePort();
  const name = `ff-top-down-${process.pid}`;
  startTop(name, `--stats 127.0.0.1:${port}`);
  const pane = await waitForPane(name, /cannot reach/, 10_000);
  assert.match(pane, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/status\\?json&full: .*ECONNREFUSED`));
  tmux('send-keys', '-t', name, 'C-c');
  assert.match(await waitForPane(name, /top exited with status \d+/, 5000), /top exited with status 0$/m);
});
