// The small CGI runner: runs one handler module as a classic CGI program (env + stdin in, CGI response on stdout).
//
// Usage (by the /cgi-bin/ mount, never by a shell): node cgi-main.js <module path>
// The module path comes from the script resolution, never from the query (no RFC 3875 §4.4
// indexed-query argv). The environment holds only the meta-variables and PATH.
// Exit codes: 0 answered, 1 the handler failed (a 500 CGI response was written), 2 bad usage.
import { cgiErrorResponse, loadHandler, requestFromCgi, writeCgiResponse, type CgiEnv } from './handler.js';

function fail(stage: string, err: unknown): number {
  // stderr goes to the gateway's log, line by line; the client only sees a plain 500.
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`cgi-main: ${stage}: ${detail}\n`);
  process.stdout.write(cgiErrorResponse(500, 'Internal Server Error'));
  return 1;
}

async function main(modulePath: string | undefined): Promise<number> {
  if (modulePath === undefined) {
    process.stderr.write('usage: cgi-main <handler module>\n');
    return 2;
  }
  const env: CgiEnv = Object.freeze({ ...process.env });
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
