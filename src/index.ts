// The package's public API: handler module types (for editor help in cgi-bin/*.mjs) and the bridge helpers.
export type { CgiEnv, FetchFunction, FetchHandler, Handler, HandlerModule } from './app/handler.js';
export { loadHandler, requestFromCgi, writeCgiResponse } from './app/handler.js';
