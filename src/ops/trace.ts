// One request watched from inside on demand: its FastCGI records, raw CGI response and timings, for the lab.
//
// Exports: TRACE_HEADER, TraceRecorder (begin, expect), Trace (what the mounts and the FastCGI
//          client report into), TracedRecord, TraceReport.
//
// Nothing here runs unless a request carries TRACE_HEADER from an allowed client: the front
// makes one check (a header lookup), and every hook elsewhere is one branch on a field that is
// undefined (ctx.trace, a FastCGI job's trace) or null (the connection's output and decoder
// taps). A trace is a class instance, not closures, and the table of waiting traces is a small
// array, not a Map with per-request deletes (docs/performance.md, test/source/churn-guard).
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { RecordDecoder, type RecordSink, type RecordTap } from '../fastcgi/decoder.js';
import type { ScriptRun } from '../gateway/flow.js';
import type { Failure } from '../gateway/failure.js';
import type { RecordOutput } from '../fastcgi/streams.js';

/** The request header that asks for a trace; its value names the trace (1–64 of [A-Za-z0-9_-]). */
export const TRACE_HEADER = 'x-forkfast-trace';
const TRACE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** The raw CGI response kept for the page: enough for any teaching script, bounded for any other. */
const RAW_LIMIT = 64 * 1024;
/** Traces waiting for their reader at once: the lab sends two at a time. */
const SLOTS = 16;

/** FastCGI 1.0 §8 record type names, by type number. */
const TYPE_NAMES = ['', 'BEGIN_REQUEST', 'ABORT_REQUEST', 'END_REQUEST', 'PARAMS', 'STDIN', 'STDOUT', 'STDERR', 'DATA', 'GET_VALUES', 'GET_VALUES_RESULT', 'UNKNOWN_TYPE'];

export interface TracedRecord {
  /** sent: front to worker; received: worker to front. */
  readonly direction: 'sent' | 'received';
  readonly type: string;
  readonly requestId: number;
  readonly contentLength: number;
  readonly paddingLength: number;
  /** Milliseconds since the request arrived. */
  readonly atMs: number;
}

export interface TraceReport {
  readonly id: string;
  readonly requestId: string;
  readonly route: string;
  readonly status: number;
  /** RFC 3875 §4.1 meta-variables exactly as handed to the script (or sent as FCGI_PARAMS). */
  readonly metaVariables: Readonly<Record<string, string>> | null;
  readonly records: readonly TracedRecord[];
  /** The CGI response (RFC 3875 §6) as the script wrote it, before the gateway parsed it, latin1. */
  readonly rawResponse: string;
  readonly rawBytes: number;
  readonly rawTruncated: boolean;
  readonly childPid: number | null;
  /** Named instants, ms since the request arrived: spawned, first-byte, begin-request, end-request, finished. */
  readonly marks: Readonly<Record<string, number>>;
}

/** What the dispatcher hands the trace so that it can read the meta-variables at the end. */
interface MetaSource {
  readonly metaVariables?: Readonly<Record<string, string>> | undefined;
  readonly kind: string;
}

export class Trace implements RecordTap {
  private readonly t0 = performance.now();
  private readonly records: TracedRecord[] = [];
  private readonly raw: Buffer[] = [];
  private rawBytes = 0;
  private readonly marks: Record<string, number> = {};
  private childPid: number | null = null;
  private source: MetaSource | null = null;
  /** The FastCGI request id of this trace on its connection, once sent. */
  private fcgiId = -1;
  private out: RecordOutput | null = null;
  private decoder: RecordDecoder | null = null;
  /** Decodes the bytes the front wrote, to list the records that left (its own state: always aligned). */
  private readonly sentDecoder = new RecordDecoder(IGNORE);
  /** Another trace tapping the same connection (two lab requests at once): told everything too. */
  private next: Trace | null = null;
  private active = false;
  report: TraceReport | null = null;

  constructor(
    readonly id: string,
    private readonly requestId: string,
    private readonly done: (t: Trace) => void,
  ) {
    this.sentDecoder.tap = { header: (type, rid, len, pad) => this.note('sent', type, rid, len, pad) };
  }

  /** The dispatch context: its metaVariables are read when the response is over. */
  context(source: MetaSource): void {
    this.source = source;
  }

  mark(name: string, pid?: number): void {
    this.marks[name] ??= this.now();
    if (pid !== undefined) this.childPid = pid;
  }

  /** The gateway flow's script run, watched: its pid, and its CGI response as collected or streamed. */
  watch(run: ScriptRun): ScriptRun {
    if (run.childPid !== undefined) this.mark('spawned', run.childPid);
    return new TracedRun(run, this);
  }

  /** The CGI response on its way to the parser: recorded as it passes, up to RAW_LIMIT. */
  tap(stdout: Readable): Readable {
    const tee = new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.rawChunk(chunk);
        cb(null, chunk);
      },
    });
    stdout.on('error', (err) => tee.destroy(err));
    return stdout.pipe(tee);
  }

  /** A response collected whole (the one-write path) is recorded at once. */
  rawChunk(chunk: Buffer): void {
    this.mark('first-byte');
    if (this.rawBytes < RAW_LIMIT) this.raw.push(chunk.subarray(0, RAW_LIMIT - this.rawBytes));
    this.rawBytes += chunk.length;
  }

  /** The FastCGI client sends this trace's request as `fcgiId` on a connection: watch its records. */
  attach(fcgiId: number, out: RecordOutput, decoder: RecordDecoder): void {
    this.fcgiId = fcgiId;
    this.out = out;
    this.decoder = decoder;
    this.active = true;
    if (out.tap instanceof Trace && out.tap !== this) this.next = out.tap;
    out.tap = this;
    decoder.tap = this;
  }

  /** RecordOutput: bytes about to leave. Whole records only (every write is), so decoding stays aligned. */
  wrote(buf: Buffer): void {
    if (this.active) this.sentDecoder.push(buf);
    if (this.next !== null) this.next.wrote(buf);
  }

  /** The connection's decoder: a record header came in. */
  header(type: number, requestId: number, contentLength: number, paddingLength: number): void {
    if (this.active) this.note('received', type, requestId, contentLength, paddingLength);
    if (this.next !== null) this.next.header(type, requestId, contentLength, paddingLength);
  }

  private note(direction: 'sent' | 'received', type: number, requestId: number, contentLength: number, paddingLength: number): void {
    if (requestId !== this.fcgiId) return;
    const atMs = this.now();
    if (type === 1) this.mark('begin-request');
    if (type === 3) {
      this.mark('end-request');
      this.detach();
    }
    if (this.records.length < 1000) this.records.push({ direction, type: TYPE_NAMES[type] ?? `type ${type}`, requestId, contentLength, paddingLength, atMs });
  }

  private detach(): void {
    if (!this.active) return;
    this.active = false;
    // Only the head of the chain unhooks; one further down just stops listening.
    if (this.out !== null && this.out.tap === this) this.out.tap = this.next;
    if (this.decoder !== null && this.decoder.tap === this) this.decoder.tap = this.next;
  }

  /** The response is over (finished or the client went): the report is fixed. */
  finish(status: number): void {
    if (this.report !== null) return;
    this.mark('finished');
    this.detach();
    this.report = {
      id: this.id,
      requestId: this.requestId,
      route: this.source?.kind ?? 'static',
      status,
      metaVariables: this.source?.metaVariables ?? null,
      records: this.records,
      rawResponse: Buffer.concat(this.raw).toString('latin1'),
      rawBytes: this.rawBytes,
      rawTruncated: this.rawBytes > RAW_LIMIT,
      childPid: this.childPid,
      marks: this.marks,
    };
    this.done(this);
  }

  private now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }
}

const IGNORE: RecordSink = { onStream() {}, onRecord() {} };

/** A ScriptRun that shows its output to a trace: the whole answer when collected, else the stream. */
class TracedRun implements ScriptRun {
  private tapped: Readable | null = null;
  readonly over: Promise<unknown>;
  readonly childPid?: number;

  constructor(
    private readonly run: ScriptRun,
    private readonly trace: Trace,
  ) {
    this.over = run.over;
    if (run.childPid !== undefined) this.childPid = run.childPid;
  }

  get stdout(): Readable {
    return (this.tapped ??= this.trace.tap(this.run.stdout));
  }

  async collect(): Promise<Buffer | null> {
    const whole = await this.run.collect();
    if (whole !== null) this.trace.rawChunk(whole);
    return whole;
  }

  complete(): Promise<boolean> {
    return this.run.complete();
  }

  failure(malformed: Failure, wrote: boolean): Promise<Failure | null> {
    return this.run.failure(malformed, wrote);
  }
}

interface Waiter {
  id: string;
  resolve: (r: TraceReport | null) => void;
  timer: NodeJS.Timeout;
}

/** Hands traces to the one who asked for them: the lab sets the id, sends, and waits here. */
export class TraceRecorder {
  private readonly waiters: (Waiter | null)[] = new Array<Waiter | null>(SLOTS).fill(null);
  private readonly finished: (TraceReport | null)[] = new Array<TraceReport | null>(SLOTS).fill(null);
  private next = 0;

  /** A trace for a request that asked for one with a valid id; undefined otherwise. */
  begin(value: string | string[] | undefined, requestId: string): Trace | undefined {
    if (typeof value !== 'string' || !TRACE_ID.test(value)) return undefined;
    return new Trace(value, requestId, (t) => this.deliver(t));
  }

  /** The report of trace `id` once its response is over; null after `timeoutMs`. */
  expect(id: string, timeoutMs: number): Promise<TraceReport | null> {
    const early = this.finished.findIndex((r) => r !== null && r.id === id);
    if (early >= 0) {
      const r = this.finished[early]!;
      this.finished[early] = null;
      return Promise.resolve(r);
    }
    return new Promise((resolve) => {
      const slot = this.waiters.indexOf(null);
      if (slot < 0) return resolve(null);
      const timer = setTimeout(() => {
        this.waiters[slot] = null;
        resolve(null);
      }, timeoutMs);
      this.waiters[slot] = { id, resolve, timer };
    });
  }

  private deliver(t: Trace): void {
    const slot = this.waiters.findIndex((w) => w !== null && w.id === t.id);
    if (slot >= 0) {
      const w = this.waiters[slot]!;
      this.waiters[slot] = null;
      clearTimeout(w.timer);
      w.resolve(t.report);
      return;
    }
    // Nobody waits yet (the response beat the reader): keep it in a ring, the oldest goes first.
    this.finished[this.next] = t.report;
    this.next = (this.next + 1) % SLOTS;
  }
}
