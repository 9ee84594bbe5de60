// The SCGI responder (application side) for the pool: nginx's scgi_pass, one request per connection.
import type { Logger } from '../log.js';
import type { Responder, RequestListener } from '../fastcgi/server.js';
import { createOneShotResponder } from '../responder/one-shot.js';
import { ScgiDecoder } from './protocol.js';

/** The netstring length is unbounded by the format: the same bound as a FastCGI PARAMS stream. */
const MAX_HEADERS_BYTES = 256 * 1024;

export function createScgiResponder(opts: { readonly log: Logger; readonly onRequest: RequestListener; readonly allowClient?: ((remoteAddress: string) => boolean) | undefined }): Responder {
  return createOneShotResponder({ protocol: 'SCGI', log: opts.log, onRequest: opts.onRequest, allowClient: opts.allowClient, decoder: () => new ScgiDecoder(MAX_HEADERS_BYTES) });
}
