// The lab in a real browser: headless Chromium (playwright-core, no bundled browser) against a real `forkfast serve`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startServer, type RunningServer } from '../helpers/server.js';

const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const ARTIFACTS = join(repoRoot, 'test-artifacts');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

type Pw = typeof import('playwright-core');

async function loadPlaywright(): Promise<Pw | string> {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (Debian package chromium)`;
  try {
    return (await import('playwright-core')) as Pw;
  } catch (err) {
    return `playwright-core is not installed: ${(err as Error).message}`;
  }
}

test('the lab in headless Chromium: anatomy of a POST, a race, a worker killed mid-race', { timeout: 170_000 }, async (t) => {
  const pw = await loadPlaywright();
  if (typeof pw === 'string') {
    t.skip(pw);
    return;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'forkfast-chromium-'));
  let server: RunningServer | undefined;
  // A fresh profile directory is Chromium's --user-data-dir (playwright passes it as that).
  const browser = await pw.chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 60_000, viewport: { width: 1400, height: 1000 } });
  try {
    server = await startServer(['--workers', '2'], { timeoutMs: 30_000 });
    const page = await browser.newPage();
    const attrs = async (selector: string, name: string): Promise<string[]> => Promise.all((await page.locator(selector).all()).map(async (l) => (await l.getAttribute(name)) ?? ''));
    const pids = async (): Promise<number[]> => (await attrs('tr[data-pid]', 'data-pid')).map(Number);
    page.setDefaultTimeout(60_000);
    await page.goto(`${server.url}/-/lab/`);

    await t.test('anatomy: a POST with a body through both mounts', async () => {
      await page.getByLabel('Script').first().fill('form.mjs');
      await page.getByLabel('Method').selectOption('POST');
      await page.getByLabel('Query').fill('lang=en');
      await page.getByLabel('Body').fill('name=Ada&topic=CGI');
      await page.getByRole('button', { name: 'Send through both mounts' }).click();
      await page.locator('#anatomy-status', { hasText: 'Done.' }).waitFor();
      for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
        const col = page.locator(`article[data-mount="${mount}"]`);
        const v = (name: string): Promise<string> => col.locator(`table.vars tr[data-name="${name}"] td`).first().innerText();
        assert.equal(await v('REQUEST_METHOD'), 'POST', mount);
        assert.equal(await v('CONTENT_LENGTH'), String('name=Ada&topic=CGI'.length), mount);
        assert.equal(await v('QUERY_STRING'), 'lang=en', mount);
        assert.equal(await v('SCRIPT_NAME'), `${mount}form.mjs`, mount);
        assert.equal(await v('HTTP_X_LESSON'), 'one', mount);
        const raw = await col.locator('pre.raw.cgi').innerText();
        assert.match(raw, /^content-type: text\/html/im, `${mount}: the raw CGI response shows the script's header`);
        assert.match(raw, /Ada/, `${mount}: the raw CGI response shows the posted name`);
        assert.match(await col.locator('pre.raw.http').innerText(), /^HTTP\/1\.1 200 OK/, mount);
      }
      const types = await attrs('article[data-mount="/fcgi-bin/"] table.records tr[data-type]', 'data-type');
      for (const type of ['BEGIN_REQUEST', 'PARAMS', 'STDIN', 'STDOUT', 'END_REQUEST']) assert.ok(types.includes(type), `FastCGI record ${type} shown (${types.join(' ')})`);
      assert.equal(types[0], 'BEGIN_REQUEST');
      assert.equal(types.at(-1), 'END_REQUEST');
      await page.screenshot({ path: join(ARTIFACTS, 'lab-anatomy.png'), fullPage: true });
    });

    await t.test('race: both charts drew points, the resident mount won, a killed worker is replaced', async () => {
      await page.locator('tr[data-pid]').first().waitFor();
      const before = await pids();
      const killed = before[0]!;
      assert.equal(before.length, 2);
      await page.getByLabel('Script').nth(1).fill('hello.mjs');
      await page.getByLabel('Concurrent clients').fill('2');
      await page.getByLabel('Seconds per mount').fill('3');
      await page.getByRole('button', { name: 'Start the race' }).click();
      // Mid-race (the resident phase): kill -9 one worker from the pool view, as a crash would.
      await page.locator('#race-status', { hasText: '/fcgi-bin/hello.mjs' }).waitFor();
      await page.getByRole('button', { name: `kill worker ${killed} with SIGKILL` }).click();
      await page.locator('#race-winner').waitFor({ timeout: 90_000 });
      assert.equal(await page.locator('#race-winner').getAttribute('data-winner'), '/fcgi-bin/');
      for (const chart of ['#chart-rps', '#chart-lat']) {
        const points = await page.locator(`${chart} path.line[data-mount="/fcgi-bin/"]`).first().getAttribute('data-points');
        assert.ok(Number(points) >= 2, `${chart}: the resident line has points (${points})`);
      }
      const forkPoints = await page.locator('#chart-rps path.line[data-mount="/cgi-bin/"]').getAttribute('data-points');
      assert.ok(Number(forkPoints) >= 2, `the fork's throughput line has points (${forkPoints})`);
      // The pool view shows a replacement: a pid that was not there, and the killed one gone.
      await page.waitForFunction(
        `(() => { const p = [...document.querySelectorAll('tr[data-pid]')].map((r) => Number(r.dataset.pid)); return p.length === 2 && !p.includes(${killed}); })()`,
        undefined,
        { timeout: 30_000 },
      );
      const after = await pids();
      assert.ok(after.some((p) => !before.includes(p)), `a new worker (${after.join(', ')} after ${before.join(', ')})`);
      await page.screenshot({ path: join(ARTIFACTS, 'lab-race.png'), fullPage: true });
    });

    await t.test('phone width and large type stay usable', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.getByLabel('Large type (projector)').check();
      assert.equal(await page.locator('body.big').count(), 1);
      const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
      assert.ok(overflow <= 1, `no horizontal scroll on a phone (${overflow} px)`);
      await page.screenshot({ path: join(ARTIFACTS, 'lab-phone.png') });
    });
  } finally {
    await browser.close();
    await server?.stop();
    rmSync(profile, { recursive: true, force: true });
  }
});
