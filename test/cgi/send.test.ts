// sendCgiResponse (app/handler): a body complete at once leaves whole with a Content-Length; a body
// that keeps coming streams, its head first; HEAD and errors as in writeCgiResponse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { sendCgiResponse, type CgiSink } from '../../src/app/handler.js';

function sink(): CgiSink & { ends: string[]; streamed: string[]; asked: number } {
  const streamed: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _e, cb) {
      streamed.push(chunk.toString('latin1'));
      cb();
    },
  });
  const s = {
    ends: [] as string[],
    streamed,
    asked: 0,
    endWith(data: string | Uint8Array) {
      s.ends.push(typeof data === 'string' ? data : Buffer.from(data).toString('latin1'));
    },
    get stdout() {
      s.asked++;
      return out;
    },
  };
  return s;
}

test('sendCgiResponse: a string body goes out whole, with the head and a Content-Length', async () => {
  const s = sink();
  await sendCgiResponse(new Response('héllo', { status: 201, headers: { 'x-a': '1', 'set-cookie': 'k=v' } }), s);
  assert.equal(s.asked, 0, 'no stream was needed');
  assert.deepEqual(s.ends, ['Status: 201\r\ncontent-type: text/plain;charset=UTF-8\r\nx-a: 1\r\ncontent-length: 6\r\nset-cookie: k=v\r\n\r\nh\u00c3\u00a9llo']);
  const own = sink();
  await sendCgiResponse(new Response('abc', { headers: { 'content-length': '3' } }), own);
  assert.equal(own.ends[0]!.match(/content-length/g)?.length, 1, "the handler's own Content-Length is kept, not doubled");
});

test('sendCgiResponse: a body that keeps coming streams, the head before the later chunks', async () => {
  const s = sink();
  let release: () => void = () => {};
  const later = new Promise<void>((r) => (release = r));
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(new TextEncoder().encode('one '));
      await later;
      c.enqueue(new TextEncoder().encode('two'));
      c.close();
    },
  });
  const done = sendCgiResponse(new Response(body), s);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.asked, 1);
  assert.match(s.streamed.join(''), /^Status: 200\r\n\r\none $/, 'head and first chunk out before the second exists');
  release();
  await done;
  assert.equal(s.streamed.join(''), 'Status: 200\r\n\r\none two');
  assert.deepEqual(s.ends, ['']);
});

test('sendCgiResponse: HEAD writes the head only; a failing body rejects', async () => {
  const h = sink();
  await sendCgiResponse(new Response('body'), h, { head: true });
  assert.deepEqual(h.ends, ['Status: 200\r\ncontent-type: text/plain;charset=UTF-8\r\n\r\n']);
  const bad = new ReadableStream({ pull: (c) => c.error(new Error('boom')) });
  await assert.rejects(sendCgiResponse(new Response(bad), sink()), /boom/);
});
