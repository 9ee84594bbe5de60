// Reads a child's whole stdout when it is small and ends at once, so the answer leaves in one write.
//
// Exports: collectSmall(stdout, opts) -> Promise<Buffer | null>, SMALL_ANSWER (the options both gateways use)
//
// Most CGI responses (hello.sh: ~60 bytes) arrive in one chunk followed by EOF. Streamed, node:http
// sends them chunked in two writes (head + chunk, then the "0\r\n\r\n" terminator); collected, the
// CGI mount answers with a Content-Length in one write (cgi/answer: answerCgiBuffer). A response
// that is large or slow is handed back untouched: what was read is unshifted, the stream is paused
// again, and the caller streams it as before (a slow script's first bytes wait `waitMs` at most).
import type { Readable } from 'node:stream';

export interface CollectOptions {
  /** Past this many bytes, stream instead. */
  readonly maxBytes: number;
  /** How long after the first byte we wait for EOF before streaming instead (ms). */
  readonly waitMs: number;
}

/**
 * What both gateways collect (the front's /cgi-bin/ and the pool's programs): up to 64 KiB that
 * ends within 20 ms of its first byte is answered in one write; larger or slower is streamed.
 */
export const SMALL_ANSWER: CollectOptions = { maxBytes: 64 * 1024, waitMs: 20 };

/**
 * Resolves with every byte of `stdout` when it ends within the limits, else null with the bytes
 * read so far put back at the front of the (paused) stream. Never rejects: an error ends the
 * collection (null, bytes put back) and the streaming path sees the error.
 */
export function collectSmall(stdout: Readable, opts: CollectOptions): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      stdout.off('error', onError);
    };
    const handBack = (): void => {
      cleanup();
      stdout.pause();
      if (size > 0) stdout.unshift(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
      resolve(null);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > opts.maxBytes) handBack();
      else if (timer === undefined) timer = setTimeout(handBack, opts.waitMs);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (): void => handBack();
    stdout.on('data', onData);
    stdout.once('end', onEnd);
    stdout.once('error', onError);
  });
}
