// Finds the compiled test files and runs them with node's test runner. Node 20's runner does not
// expand globs, so we list the files ourselves, and we refuse to pass when none were found.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'dist', 'test');

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

let files = [];
try {
  files = find(testDir);
} catch {
  // handled below
}
const only = process.argv.slice(2);
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error(`no test files found under ${relative(root, testDir)}: did the build run?`);
  process.exit(1);
}
console.log(`running ${files.length} test files`);
// --test-force-exit: a file that leaves a handle open must end, not hang CI; --test-timeout
// bounds any single test (each test also has its own deadline).
// Stream the output (a long run must show progress) and keep a copy to read the summary from.
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-force-exit', '--test-timeout=180000', ...files], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
let out = '';
child.stdout.setEncoding('utf8').on('data', (chunk) => {
  out += chunk;
  if (out.length > 1_000_000) out = out.slice(-100_000);
  process.stdout.write(chunk);
});
child.on('close', (code, signal) => {
  if (code !== 0) process.exit(code ?? 1);
  const m = /^\S*\s*tests (\d+)/m.exec(out);
  if (!m || Number(m[1]) === 0) {
    console.error('zero tests ran: refusing to pass');
    process.exit(1);
  }
  void signal;
});
