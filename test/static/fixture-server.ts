// A child process serving one directory with the static mount, for tests that watch its memory.
// Usage: node fixture-server.js <root>; prints {"port":N} on stdout once listening.
import { silentLogger } from '../../src/log.js';
import { createStaticMount } from '../../src/static/serve.js';
import { serve } from './harness.js';

const root = process.argv[2];
if (root === undefined) {
  process.stderr.write('usage: fixture-server <root>\n');
  process.exit(2);
}
const running = await serve(createStaticMount({ root, log: silentLogger() }));
process.stdout.write(`${JSON.stringify({ port: running.port })}\n`);
// The parent kills us; closing stdin (parent gone) ends us too, so no orphan survives a crash.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
