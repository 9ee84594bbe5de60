// The front's buffer reclaim: outside memory that grew by bulk reads is collected within ticks,
// and a process with nothing to reclaim is left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { startBufferReclaim } from '../../src/http/buffer-reclaim.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('garbage read buffers are collected soon after they pile up; an idle process is left alone', async () => {
  const reclaim = startBufferReclaim();
  assert.ok(reclaim, 'this V8 lets the reclaimer collect');
  try {
    await sleep(100);
    const idle = reclaim.collections;
    await sleep(200);
    assert.equal(reclaim.collections, idle, 'nothing grew, nothing collected');
    const before = v8.getHeapStatistics().external_memory;
    // 48 MiB of 64 KiB buffers, dropped as soon as made: what a stream of socket reads leaves.
    for (let i = 0; i < 768; i++) Buffer.allocUnsafeSlow(65536).fill(i & 0xff);
    await sleep(200);
    assert.ok(reclaim.collections > idle, 'a young collection was asked for');
    const after = v8.getHeapStatistics().external_memory;
    assert.ok(after - before < 16 << 20, `outside memory back within 16 MiB of where it was: grew ${((after - before) / 1048576).toFixed(1)} MiB`);
    assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'no global gc leaks to user code');
  } finally {
    reclaim.stop();
  }
});
