// Pure parts of the spawner: the #! parser behind start-failure messages, and the error mapping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCodeForSpawnError } from '../../src/gateway/failure.js';
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
