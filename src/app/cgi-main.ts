// The small CGI runner: runs one handler module as a classic CGI program (env + stdin in, CGI response on stdout).
//
// Usage (by the /cgi-bin/ mount, never by a shell): node cgi-main.js <module path>
// The module path comes from the script resolution, never from the query (no RFC 3875 §4.4
// indexed-query argv). The environment holds only the meta-variables and PATH.
// Exit codes: 0 answered, 1 the handler failed (a 500 CGI response was written), 2 bad usage,
// 13 the handler's promise never settled (Node's code; a 500 naming it was written).
import { writeSync } from 'node:fs';
import { cgiErrorResponse, isForbiddenMethod, loadHandler, requestFromCgi, writeCgiResponse, type CgiEnv } from './handler.js';

/** Set once a response (or an error response) went to stdout. */
let answered = false;

function fail(stage: string, err: unknown): number {
  // stderr goes to the gateway's log, line by line; the client only sees a plain 500.
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`cgi-main: ${stage}: ${detail}\n`);
  answered = true;
  process.stdout.write(cgiErrorResponse(500, 'Internal Server Error'));
  return 1;
}

// A handler whose promise neither resolves nor rejects leaves nothing for the event loop to do:
// Node then ends the process with code 13 ("unsettled top-level await"). Say so, to the log and
// to the client, instead of an empty stdout the gateway could only call malformed.
process.on('exit', (code) => {
  // Node 20 passes 0 here and sets process.exitCode; later versions pass 13.
  if (answered || (code !== 13 && process.exitCode !== 13)) return;
  writeSync(2, 'cgi-main: the handler never settled: its promise neither resolved nor rejected, and nothing was left to wait for\n');
  writeSync(1, cgiErrorResponse(500, 'Internal Server Error: the handler never settled its response'));
});

async function main(modulePath: string | undefined): Promise<number> {
  if (modulePath === undefined) {
    process.stderr.write('usage: cgi-main <handler module>\n');
    return 2;
  }
  const env: CgiEnv = Object.freeze({ ...process.env });
  const method = env['REQUEST_METHOD'] ?? 'GET';
  if (isForbiddenMethod(method)) {
    // Request refuses TRACE, CONNECT and TRACK (Fetch: forbidden methods): no handler can take
    // one. Not implemented for handlers (RFC 9110 §15.6.2), not a handler failure.
    answered = true;
    process.stdout.write(cgiErrorResponse(501, 'Not Implemented'));
    return 0;
  }
  let handler;
  try {
    handler = await loadHandler(modulePath);
  } catch (err) {
    return fail('cannot load the handler module', err);
  }
  let response: unknown;
  try {
    response = await handler(requestFromCgi(env, process.stdin), env);
  } catch (err) {
    return fail('the handler threw', err);
  }
  if (!(response instanceof Response)) return fail('the handler did not return a Response', new TypeError(typeof response));
  answered = true;
  try {
    await writeCgiResponse(response, process.stdout, { head: env['REQUEST_METHOD'] === 'HEAD' });
  } catch (err) {
    // Headers may be out already: all we can do is say why and stop.
    process.stderr.write(`cgi-main: the response body failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return 0;
}

const code = await main(process.argv[2]);
// The response is complete: exit even if the handler left timers or sockets open (one request
// per process is the CGI contract). The write callback runs once stdout has taken every byte.
process.stdout.write('', () => process.exit(code));
