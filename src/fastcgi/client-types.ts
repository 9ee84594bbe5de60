// The FastCGI client's vocabulary: what a caller hands request() and what it gets back.
//
// Its own file so that the client's parts (client.ts, client-conn.ts, client-job.ts) import
// types one way only, from here, and never from each other in a circle.
import type { Readable } from 'node:stream';
import type { ProtocolStatus } from './protocol.js';
import type { WireTrace } from './streams.js';

/** Where to connect: a TCP host and port, or a unix socket path. */
export type UpstreamAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/** What the upstream said in GET_VALUES_RESULT (§4.1), learned once per upstream. */
export interface UpstreamValues {
  readonly mpxs: boolean;
  readonly maxReqs: number;
  readonly maxConns: number;
  /**
   * The upstream is a forkfast pool: it names the worker process behind each connection (our own
   * GET_VALUES variable, FORKFAST_PID), so requests are balanced over workers, not connections.
   */
  readonly names: boolean;
}

/** How the request ended (§5.5 FCGI_EndRequestBody). */
export interface FastcgiEnd {
  readonly appStatus: number;
  readonly protocolStatus: ProtocolStatus;
}

/**
 * What request() needs of an AbortSignal. Node's AbortSignal fits; so does a small object of the
 * caller's (an AbortController per request was ~2 % of the front's CPU: docs/performance.md).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface FastcgiRequest {
  readonly params: Iterable<readonly [string, string]> | Readonly<Record<string, string>>;
  /** The request body, streamed as FCGI_STDIN with backpressure; null sends an empty STDIN. */
  readonly body: Readable | null;
  /** Fires ABORT_REQUEST (§5.4) and fails the request with FCGI_ABORTED. */
  readonly signal?: AbortSignalLike;
  /** FCGI_STDERR content; default: one warn log line per chunk. */
  readonly onStderr?: (chunk: Buffer) => void;
  /** §6: 'responder' (default) or 'authorizer' (PARAMS only: give no body). */
  readonly role?: 'responder' | 'authorizer';
  /** The lab's trace of this request (ops/trace): its records are watched on the connection. */
  readonly trace?: WireTrace | undefined;
}

export interface FastcgiResponse {
  /** The CGI response as a stream (built on first access). */
  readonly stdout: Readable;
  /** Settles at END_REQUEST (built on first access). */
  readonly ended: Promise<FastcgiEnd>;
  readonly upstream: string;
  /**
   * The whole STDOUT, when END_REQUEST (FCGI_REQUEST_COMPLETE) already arrived and `stdout` was
   * never read; null otherwise. The common small resident response is answered from this in
   * one write, without a stream.
   */
  takeComplete(): Buffer | null;
}
