// The chunked-body spool on a full disk: the server's fault (507), not the client's (400).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareBody } from '../../src/cgi/body.js';
import { rawRequest } from '../helpers/raw-http.js';

/** A 64 KiB tmpfs (needs root, as CI runs); null when it cannot be mounted here. */
function tinyDisk(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'ff-spool-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

test('a chunked body that does not fit the spool disk is refused as 507, one that fits is spooled', { timeout: 30_000 }, async (t) => {
  const dir = tinyDisk();
  if (dir === null) return t.skip('cannot mount a small tmpfs here (needs root): the full-disk case is not exercised');
  let server: Server | undefined;
  try {
    server = createServer((req, res) => {
      void prepareBody(req, { maxBodySize: 16 * 1024 * 1024, memoryLimit: 1024, spoolDir: dir }).then(async (body) => {
        res.end(body.ok ? `ok ${body.length}` : `${body.code} ${body.reason}`);
        if (body.ok) await body.dispose();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const chunked = (bytes: number): string => {
      const piece = 'y'.repeat(8192);
      let out = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
      for (let n = 0; n < bytes; n += piece.length) out += `2000\r\n${piece}\r\n`;
      return out + '0\r\n\r\n';
    };
    const small = await rawRequest(port, chunked(16 * 1024), 10_000);
    assert.equal(small.body.toString(), `ok ${16 * 1024}`);
    const large = await rawRequest(port, chunked(256 * 1024), 10_000);
    assert.match(large.body.toString(), /^FF_INSUFFICIENT_STORAGE .*ENOSPC/);
  } finally {
    server?.close();
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
