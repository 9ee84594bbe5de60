// Hostile HTTP requests against every route: the expected status each, one log line per refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpCases } from './http-cases.js';
import { runHttpCases, unloggedRefusals } from './http-run.js';
import { startWorld } from './world.js';

test('300+ hostile requests each get their expected status, and the front keeps serving', { timeout: 120_000 }, async (t) => {
  const w = await startWorld();
  t.after(() => w.stop());
  const cases = httpCases();
  assert.ok(cases.length >= 300, `only ${cases.length} cases`);
  const outcomes = await runHttpCases(w.server.port, cases);
  const wrong = outcomes.filter((o) => !o.ok).map((o) => `${o.case.group}: ${o.case.name} -> ${o.status} (${o.responses} responses${o.leaked ? ', LEAKED' : ''}), expected ${o.case.expect.join('|')}`);
  assert.deepEqual(wrong, []);
  assert.equal(w.server.proc.exitCode, null, 'the front is still running');
  const after = await fetch(`${w.server.url}/index.html`);
  assert.equal(after.status, 200);
  await after.text();
  // Log lines trail the answers by a pipe: give them a moment, then match them one to one.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(unloggedRefusals(outcomes, w.server.logs()), []);
});
