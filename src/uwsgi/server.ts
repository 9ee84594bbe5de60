// The uwsgi responder (application side) for the pool: nginx's uwsgi_pass, one request per connection.
import type { Logger } from '../log.js';
import type { Responder, RequestListener } from '../fastcgi/server.js';
import { createOneShotResponder } from '../responder/one-shot.js';
import { UwsgiDecoder } from './protocol.js';

export function createUwsgiResponder(opts: { readonly log: Logger; readonly onRequest: RequestListener; readonly allowClient?: ((remoteAddress: string) => boolean) | undefined }): Responder {
  return createOneShotResponder({ protocol: 'uwsgi', log: opts.log, onRequest: opts.onRequest, allowClient: opts.allowClient, decoder: () => new UwsgiDecoder() });
}
