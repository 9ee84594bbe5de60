// The log vocabulary of docs/logging.md, checked in the sources: error detail is `err`, an Error.
//
// A log line's error detail goes through pino's err serializer (type, message, stack), so
// pino-pretty prints a stack and a log search finds every failure under one field. This test reads
// src/: no `why`/`detail` fields, no message strings or stack strings passed as `err`, and the
// children's default PATH defined once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Log calls (log.x({ ... }, 'msg') on one line) whose fields break the vocabulary. */
const BAD_FIELDS: ReadonlyArray<[RegExp, string]> = [
  [/[{,]\s*why(?::|\s*[,}])/, '`why`: error detail is `err`, a cause string is `reason`'],
  [/[{,]\s*detail(?::|\s*[,}])/, '`detail`: error detail is `err`'],
  [/\berr:\s*\(?\s*\w+(?: as Error\))?\.(?:message|stack)\b/, '`err` as a string: pass the Error'],
  [/\berr:\s*stackOf\(/, '`err` as a stack string: pass the Error'],
];

function offences(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!/\blog(?:\.\w+)?(?:\[[^\]]+\]|\.(?:trace|debug|info|warn|error|fatal))\(\{/.test(line)) continue;
    for (const [re, why] of BAD_FIELDS) if (re.test(line)) out.push(`${why}: ${line.trim()}`);
  }
  return out;
}

test('the scan finds each kind of offence and passes the vocabulary', () => {
  assert.equal(offences("log.warn({ script, why: err.message }, 'x');").length, 1);
  assert.equal(offences("this.log.warn({ code, detail: err.message }, 'x');").length, 1);
  assert.equal(offences("ctx.log.error({ err: (err as Error).message }, 'x');").length, 1);
  assert.equal(offences("log.error({ err: stackOf(err) }, 'x');").length, 1);
  assert.equal(offences("log.info({ reason: why, inFlight }, 'worker draining');").length, 0);
  assert.equal(offences("ctx.log[entry.level]({ script, err }, entry.msg);").length, 0);
});

test('src/ log lines use the vocabulary of docs/logging.md', () => {
  const found: string[] = [];
  for (const file of sources(join(ROOT, 'src'))) {
    const rel = relative(ROOT, file).split('\\').join('/');
    if (rel.startsWith('src/bench/')) continue; // the bench prints a report, not a service log
    for (const o of offences(readFileSync(file, 'utf8'))) found.push(`${rel}: ${o}`);
  }
  assert.deepEqual(found, []);
});

test('the children\'s default PATH is defined once', () => {
  const defs = sources(join(ROOT, 'src')).filter((f) => /\bconst DEFAULT_PATH\s*=/.test(readFileSync(f, 'utf8')));
  assert.equal(defs.length, 1, defs.join(', '));
});
