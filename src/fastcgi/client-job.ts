// A FastCGI client request between request() and END_REQUEST: its promises and its abort wiring.
import type { FastcgiEnd, Job } from './client-conn.js';
import type { FastcgiRequest, FastcgiResponse } from './client.js';
import { FastcgiError } from './errors.js';

/** What a job tells the client it belongs to. */
export interface JobOwner {
  logStderr(job: Job, chunk: Buffer): void;
  /** The job settled; `wasQueued`: it never reached a connection. */
  jobSettled(job: Job, wasQueued: boolean): void;
}

function noop(): void {}

/** A request's state between request() and END_REQUEST: the promises and the abort wiring. */
export function newJob(
  client: JobOwner,
  req: FastcgiRequest,
  params: Buffer,
  resolve: (r: FastcgiResponse) => void,
  reject: (e: FastcgiError) => void,
): Job {
  let endResolve: (e: FastcgiEnd) => void = noop;
  let endReject: (e: FastcgiError) => void = noop;
  const ended = new Promise<FastcgiEnd>((res, rej) => {
    endResolve = res;
    endReject = rej;
  });
  ended.catch(noop); // a caller that only awaits request() must not see an unhandled rejection
  const signal = req.signal;
  const onAbort = (): void => {
    const err = new FastcgiError('FCGI_ABORTED', 'FastCGI request aborted by the caller');
    if (job.exchange !== null) job.exchange.conn.abortExchange(job.exchange, err);
    else job.finish(err, null);
  };
  const job: Job = {
    params,
    body: req.body,
    signal,
    onStderr: req.onStderr ?? ((chunk) => client.logStderr(job, chunk)),
    responded: false,
    settled: false,
    retried: false,
    needFresh: false,
    exchange: null,
    respond(stdout) {
      if (job.responded || job.settled) return;
      job.responded = true;
      resolve({ stdout, ended, upstream: job.exchange?.conn.upstream ?? '' });
    },
    finish(err, end) {
      if (job.settled) return;
      job.settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err !== null) {
        if (!job.responded) reject(err);
        endReject(err);
      } else endResolve(end!);
      client.jobSettled(job, job.exchange === null);
    },
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return job;
}
