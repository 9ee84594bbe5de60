// A throwaway tree for hostile runs: public/ with a secret beside it, a cgi-bin of hostile scripts.
import { chmodSync, closeSync, mkdtempSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';

export const SECRET = 'hostile-secret-7f3a';

/** Scripts that misbehave on purpose, run on both mounts (/cgi-bin/ forks, /fcgi-bin/ the pool). */
const SCRIPTS: Record<string, string> = {
  'hello.sh': `printf 'Content-Type: text/plain\\r\\n\\r\\nhello\\n'`,
  // Echoes the request body: uploads come back as downloads, checksummed end to end.
  'echo.sh': `printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'; exec cat`,
  // Sends public/big.bin (its size and digest are known to the test).
  'emit.sh': `printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'; exec cat "$BIG_FILE"`,
  'flood-body.sh': `printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'; exec cat /dev/zero`,
  'flood-stderr.sh': `printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'; head -c 8388608 /dev/zero >&2`,
  'mega-headers.sh': `printf 'Content-Type: text/plain\\r\\n'; yes 'X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | head -n 16384; printf '\\r\\nbody\\n'`,
  'endless-headers.sh': `printf 'Content-Type: text/plain\\r\\n'; exec yes 'X-Pad: a'`,
  // The odd duration marks the process, so a test can find it in the process table.
  'closed-stdout.sh': `exec 1>&-; exec sleep 31.4159`,
  'bad-status.sh': `printf 'Status: abc\\r\\nContent-Type: text/plain\\r\\n\\r\\nx\\n'`,
  'huge-status.sh': `printf 'Status: 99999 Nope\\r\\nContent-Type: text/plain\\r\\n\\r\\nx\\n'`,
  'nul-header.sh': `printf 'Content-Type: text/plain\\r\\nX-A: a\\000b\\r\\n\\r\\nx\\n'`,
  'nul-name.sh': `printf 'Content-Type: text/plain\\r\\nX\\000A: b\\r\\n\\r\\nx\\n'`,
  'no-headers.sh': `printf 'just a body\\n'`,
  'silent-exit.sh': `exit 0`,
  'crlf-inject.sh': `printf 'Content-Type: text/plain\\r\\nX-A: a\\rSet-Cookie: x=1\\r\\n\\r\\nx\\n'`,
};

export interface World {
  readonly dir: string;
  readonly server: RunningServer;
  readonly bigFile: string;
  stop(): Promise<void>;
}

/** public/big.bin: `bytes` of `block` repeated (the bulk suite knows their digest). */
export interface BigFile {
  readonly block: Buffer;
  readonly bytes: number;
}

/** Builds the tree and starts `forkfast serve` on it, with public/big.bin when `big` is given. */
export async function startWorld(args: string[] = [], big?: BigFile): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'forkfast-hostile-'));
  const pub = join(dir, 'public');
  const bin = join(dir, 'cgi-bin');
  mkdirSync(pub);
  mkdirSync(bin);
  writeFileSync(join(pub, 'index.html'), '<p>index</p>\n');
  writeFileSync(join(dir, 'secret.txt'), `${SECRET}\n`);
  const bigFile = join(pub, 'big.bin');
  const fd = openSync(bigFile, 'w');
  for (let left = big?.bytes ?? 0; big && left > 0; left -= big.block.length) writeSync(fd, big.block, 0, Math.min(left, big.block.length));
  closeSync(fd);
  for (const [name, body] of Object.entries(SCRIPTS)) {
    const path = join(bin, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
  }
  try {
    const server = await startServer(['--public', pub, '--cgi-bin', bin, '--pass-env', `BIG_FILE=${bigFile}`, '--log-level', 'info', ...args], { cwd: dir });
    return {
      dir,
      server,
      bigFile,
      async stop() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
