// Worker side: run a program (execute bit) for one FastCGI request, as fcgiwrap does, but better:
// bounded children, timeouts, kill on FCGI_ABORT_REQUEST, stderr as FCGI_STDERR and logged.
//
// The FastCGI PARAMS are the RFC 3875 meta-variables (built by forkfast's front or by nginx's
// fastcgi_param lines); through the one rule of what a script may see (pool/script-env) they
// become the child's whole environment, plus PATH and --pass-env.
// The child's stdout is a CGI response (RFC 3875 §6) and goes out as FCGI_STDOUT unparsed: the
// web server parses it, as it would from fcgiwrap.
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log.js';
import type { ResponderRequest } from '../fastcgi/server.js';
import { checkExecLimits } from '../cgi/env.js';
import type { Spawner } from '../spawn/types.js';
import { answerFailure, requestIdOf } from './cgi-error.js';
import { silentExitFailure } from '../gateway/failure.js';
import { exitAfterOutput } from '../gateway/child-run.js';
import { collectSmall, SMALL_ANSWER } from '../cgi/stdout-collect.js';
import { declaresBody } from '../app/handler.js';
import type { LocatedScript } from './script.js';
import { scriptEnv } from './script-env.js';
import { asCgiResponse } from './nph.js';

export interface ProgramOptions {
  readonly spawner: Spawner;
  /** PATH and --pass-env: the meta-variables win over them. */
  readonly extraEnv: Readonly<Record<string, string>>;
  /** --pass-authorization: HTTP_AUTHORIZATION may reach the program. */
  readonly passAuthorization?: boolean;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
}

export async function runProgram(r: ResponderRequest, script: LocatedScript, opts: ProgramOptions, log: Logger): Promise<void> {
  const env = scriptEnv(r.params, script, opts.passAuthorization === true, opts.extraEnv);
  const tooBig = checkExecLimits(env);
  if (tooBig !== null) return answerFailure(r, log, script.file, { kind: 'exec-limits', variable: tooBig });
  let child;
  try {
    child = await opts.spawner.spawn(
      {
        file: script.file,
        args: [],
        cwd: script.dir,
        env,
        // No body (CONTENT_LENGTH unset, empty as nginx sends it, or 0: RFC 3875 §4.1.2): stdin
        // is /dev/null, as from the front's /cgi-bin/, without a pipe and a stream to feed it.
        stdin: declaresBody(r.params.get('CONTENT_LENGTH')) ? r.stdin : null,
        idleTimeoutMs: opts.idleTimeoutMs,
        timeoutMs: opts.timeoutMs,
        onStderrLine: (line) => {
          // Both: the web server logs FCGI_STDERR in its error log (nginx does), we log it too.
          r.writeStderr(`${line}\n`);
          log.warn({ reqId: requestIdOf(r), script: script.file, line }, 'script stderr');
        },
      },
      r.signal,
    );
  } catch (err) {
    if (r.aborted) return;
    return answerFailure(r, log, script.file, { kind: 'spawn', err: err instanceof Error ? err : new Error(String(err)) });
  }
  child = asCgiResponse(script.file, child); // nph- scripts: "HTTP/1.1 203 …" becomes "Status: 203 …"
  // The usual small answer (hello.sh: ~60 bytes, then EOF) goes out in one write, without a
  // pipeline of streams; a large or slow one is streamed with backpressure.
  const whole = await collectSmall(child.stdout, SMALL_ANSWER);
  let wrote = whole?.length ?? 0;
  if (whole !== null) {
    if (wrote > 0 && !r.aborted) r.stdout.write(whole);
  } else {
    child.stdout.on('data', (chunk: Buffer) => {
      wrote += chunk.length;
    });
    try {
      await pipeline(child.stdout, r.stdout, { end: false });
    } catch {
      // The request was aborted (r.stdout closed) or the child's pipe broke: kill it, then reap.
      child.kill('aborted');
    }
  }
  // The answer ends with the script's output, as under the front's /cgi-bin/: a script that
  // closed its stdout gets a moment to exit (`exited` waits for stderr's EOF too: every line
  // went out as FCGI_STDERR before END_REQUEST); past it, its answer is what it wrote.
  const soon = await exitAfterOutput(child);
  if (r.aborted) return;
  if (wrote === 0) {
    // Nothing written: the same failure, status and log line as under the front's /cgi-bin/.
    if (soon === null) child.kill('killed');
    const exit = soon ?? (await child.exited);
    return answerFailure(r, log, script.file, silentExitFailure(exit, false), exit.code ?? 1);
  }
  // Still running with its stdout closed: the answer is complete; --cgi-timeout bounds the rest.
  if (soon === null) return r.end(0);
  const exit = soon;
  if (exit.reason !== 'exited') log.warn({ reqId: requestIdOf(r), script: script.file, reason: exit.reason }, 'program was killed mid-response');
  // FCGI_END_REQUEST appStatus carries the exit code (FastCGI spec §5.5).
  r.end(exit.code ?? 1);
}
