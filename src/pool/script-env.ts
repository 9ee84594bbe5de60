// Worker side: what a script sees for one FastCGI request, a program's environment or a handler's env.
//
// The PARAMS are the RFC 3875 meta-variables as the web server built them (forkfast's front, or
// nginx's fastcgi_param lines). They pass through the one rule of cgi/env-rule (no loader or shell
// start-up variable, no PATH, no HTTP_PROXY, no second CONTENT_LENGTH), and the pool completes
// what nginx leaves out or cannot know:
// - SCRIPT_FILENAME is the real path that runs;
// - when the name went on past the script (pool/script splitAlong), PATH_INFO is that rest and
//   SCRIPT_NAME loses it (§4.1.5, §4.1.13), as under `serve`;
// - PATH_TRANSLATED, when PATH_INFO and DOCUMENT_ROOT are there and it is not (Debian's
//   fastcgi_params send none): PATH_INFO under the document root, never outside it (§4.1.6).
import { translatePath } from '../cgi/env.js';
import { requestMayName } from '../cgi/env-rule.js';
import type { LocatedScript } from './script.js';

/**
 * A fresh null-prototype object: `base` (the operator's PATH and --pass-env, for programs), then
 * every parameter the rule lets through, then the pool's own values. A parameter wins over `base`
 * as a meta-variable wins over an operator variable on the front, except where the rule keeps
 * the name for the server (PATH).
 */
export function scriptEnv(params: ReadonlyMap<string, string>, script: LocatedScript, passAuthorization: boolean, base?: Readonly<Record<string, string>>): Record<string, string> {
  // A dictionary either way: past a dozen properties stored under computed names V8 leaves fast
  // mode, so the literal-based trick of cgi/env buys nothing here, and Object.create(null) was
  // the cheaper of the two to fill (test/measure/env-builders.ts).
  const env = Object.create(null) as Record<string, string>;
  if (base !== undefined) for (const k of Object.keys(base)) env[k] = base[k] as string;
  for (const [k, v] of params) if (requestMayName(k, passAuthorization)) env[k] = v;
  env['SCRIPT_FILENAME'] = script.file;
  const split = script.pathInfo;
  if (split !== null) {
    const name = env['SCRIPT_NAME'];
    if (name !== undefined && split !== '' && name.endsWith(split)) env['SCRIPT_NAME'] = name.slice(0, name.length - split.length);
    env['PATH_INFO'] = split;
  }
  if (env['PATH_TRANSLATED'] === undefined) {
    const info = env['PATH_INFO'];
    const root = env['DOCUMENT_ROOT'];
    if (info !== undefined && info !== '' && root !== undefined && root.startsWith('/')) {
      const translated = translatePath(root, info);
      if (translated !== null) env['PATH_TRANSLATED'] = translated;
    }
  }
  return env;
}
