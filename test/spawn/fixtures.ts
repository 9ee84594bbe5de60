// Test fixtures for the spawner: small shell programs written to a temp dir, and helpers.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const SCRIPTS: Record<string, string> = {
  'exit.sh': '#!/bin/sh\nexit "${CODE:-0}"\n',
  'hello.sh': '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nhello\\n"\n',
  // Writes 8 MiB before it reads a byte of its input, then echoes the input (issue 3: no deadlock).
  'big-both.sh': '#!/bin/sh\nhead -c 8388608 /dev/zero\nexec cat\n',
  'no-read.sh': '#!/bin/sh\necho ignored my input\n',
  // Reports its pid and a grandchild's, then stays silent: both must die with the group.
  'hang.sh': '#!/bin/sh\nsleep 1000 &\necho "$$ $!"\nwait\n',
  'tick.sh': '#!/bin/sh\nsleep 1000 &\necho "$$ $!"\nwhile :; do echo tick; sleep 0.05; done\n',
  // Ignores SIGTERM (and so does its grandchild): only the SIGKILL after the grace period ends it.
  'stubborn.sh': '#!/bin/sh\ntrap "" TERM\nsleep 1000 &\necho "$$ $!"\nwait\nwait\n',
  'stderr.sh': '#!/bin/sh\nprintf "one\\ntwo\\r\\nthree" >&2\necho out\n',
  'stderr-flood.sh': '#!/bin/sh\nhead -c 200000 /dev/zero | tr "\\000" x >&2\necho done\n',
  // With SIGPIPE at its default, `yes` dies quietly when head exits; ignored, it would complain.
  'sigpipe.sh': '#!/bin/sh\nyes | head -n 1\n',
  'read-stdin.sh': '#!/bin/sh\nprintf "[%s]" "$(cat)"\n',
  'big-out.sh': '#!/bin/sh\nhead -c 1048576 /dev/zero\n',
  'bad-interp.sh': '#!/usr/bin/nope-not-here\necho never\n',
  'crlf.sh': '#!/bin/sh\r\necho never\r\n',
  'no-shebang.sh': 'echo I would run under sh with execvp semantics\n',
  'elf-garbage.bin': '\x7fELF\x02\x01\x01 an ELF magic and nothing valid after it',
  'garbage.bin': '\x00\x01\x02 binary bytes that no exec format claims',
};

export interface Fixtures {
  readonly dir: string;
  path(name: string): string;
  remove(): void;
}

export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'forkfast-spawn-'));
  for (const [name, body] of Object.entries(SCRIPTS)) {
    const p = join(dir, name);
    writeFileSync(p, body, 'latin1');
    chmodSync(p, 0o755);
  }
  const noexec = join(dir, 'no-exec-bit.sh');
  writeFileSync(noexec, '#!/bin/sh\necho never\n');
  chmodSync(noexec, 0o644);
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Reads up to the first newline (without consuming the stream for anyone else). */
export async function firstLine(stream: Readable): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    let acc = '';
    const onData = (chunk: Buffer): void => {
      acc += chunk.toString('utf8');
      const nl = acc.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        stream.pause();
        resolve(acc.slice(0, nl));
      }
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.once('end', () => resolve(acc));
  });
}

/**
 * True when the pid no longer runs. A zombie counts as gone: this container's pid 1 does not
 * reap orphans, so a killed grandchild may linger as Z until the machine's init gets to it.
 */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
