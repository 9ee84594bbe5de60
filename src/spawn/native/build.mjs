// Builds the native spawn addon (src/spawn/native/build/Release/forkfast_spawn.node) with node-gyp.
// Run by `npm install` (prepare → build:native). Offline, and never fatal: without a compiler or
// node headers it prints one line and exits 0, and forkfast uses child_process instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const skip = (why) => {
  console.log(`forkfast: native spawner not built (${why}); using child_process`);
  process.exit(0);
};

if (process.platform !== 'linux') skip(`${process.platform} is not Linux: the addon needs pidfd_open`);
if (process.env.FORKFAST_NO_NATIVE) skip('FORKFAST_NO_NATIVE is set');

const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const cc = process.env.CC ?? 'cc';
if (!has(cc)) skip(`no C compiler ("${cc}")`);
if (!has('make')) skip('no make');
if (!has('python3') && !has('python')) skip('no python for gyp');

/** node-gyp: npm's own copy (npm sets npm_config_node_gyp in scripts), else the one next to npm. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package: fine
  }
  return candidates.find((p) => p && existsSync(p));
}
const gyp = findNodeGyp();
if (!gyp) skip('node-gyp not found (it ships with npm)');

// Offline: point node-gyp at the headers of the running node when they are installed next to it
// (distribution packages put them in <prefix>/include/node); otherwise it uses its cache.
// node-gyp lets npm_config_* variables override its command line, so a `nodedir` in an npmrc
// (npm exports it as npm_config_nodedir) would win over --nodedir and build against another
// node's headers: replace the variable as well.
const args = [gyp, 'rebuild', '--silent'];
const env = { ...process.env };
const prefix = dirname(dirname(process.execPath));
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
  for (const k of Object.keys(env)) if (/^npm_config_nodedir$/i.test(k)) delete env[k];
  env.npm_config_nodedir = prefix;
}
// Quiet on success (npm install output stays readable); the compiler's words when it fails.
const r = spawnSync(process.execPath, args, { cwd: here, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  if (out) console.error(out);
  skip(`node-gyp failed with status ${r.status}`);
}
console.log('forkfast: native spawner built (src/spawn/native/build/Release/forkfast_spawn.node)');
