// Pure parts of the spawner: the #! parser behind start-failure messages, and the error mapping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFailure, errorCodeForSpawnError } from '../../src/gateway/failure.js';
import { shebangInterpreter } from '../../src/spawn/diagnose.js';
import { SpawnError } from '../../src/spawn/types.js';

test('shebangInterpreter reads the interpreter as the kernel does', () => {
  const cases: [string, string | null][] = [
    ['#!/bin/sh\necho', '/bin/sh'],
    ['#! /usr/bin/env perl -w\n', '/usr/bin/env'],
    ['#!/bin/sh\r\n', '/bin/sh\r'],
    ['#!\n', ''],
    ['#!/bin/bash', '/bin/bash'],
    ['echo no shebang\n', null],
    ['#', null],
    ['', null],
  ];
  for (const [text, want] of cases) assert.equal(shebangInterpreter(Buffer.from(text, 'latin1')), want, JSON.stringify(text));
});

test('errorCodeForSpawnError maps spawn failures to catalogue codes', () => {
  const cases: [string, string | null][] = [
    ['EQUEUEFULL', 'FF_OVERLOADED'],
    ['ECLOSED', 'FF_OVERLOADED'],
    ['EMFILE', 'FF_OVERLOADED'],
    ['EAGAIN', 'FF_OVERLOADED'],
    ['E2BIG', 'FF_HEADERS_TOO_LARGE'],
    ['ENOENT', 'FF_SCRIPT_START_FAILED'],
    ['EACCES', 'FF_SCRIPT_START_FAILED'],
    ['ENOEXEC', 'FF_SCRIPT_START_FAILED'],
    ['ABORT_ERR', null],
  ];
  for (const [code, want] of cases) assert.equal(errorCodeForSpawnError(new SpawnError(code, 'x')), want, code);
});

test('one table: every start failure that means "no resources now" is 503 with Retry-After, others 502', () => {
  for (const code of ['EQUEUEFULL', 'EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']) {
    const entry = describeFailure({ kind: 'spawn', err: new SpawnError(code, 'x') });
    assert.equal(entry.code, 'FF_OVERLOADED', code);
    assert.equal(entry.retryAfter, true, code);
  }
  for (const code of ['ENOENT', 'EACCES', 'ENOEXEC', 'EUNKNOWN']) {
    const entry = describeFailure({ kind: 'spawn', err: new SpawnError(code, 'x') });
    assert.equal(entry.code, 'FF_SCRIPT_START_FAILED', code);
    assert.equal(entry.retryAfter, false, code);
  }
});
