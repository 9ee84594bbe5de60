// RFC 3875 meta-variables: a one-line meaning and where each comes from (request line, header, connection, server).
const R = 'https://www.rfc-editor.org/rfc/rfc3875#section-';
/** name -> [source, meaning, RFC 3875 section] */
export const META = {
  AUTH_TYPE: ['header', 'The authentication scheme of the Authorization header, if any.', '4.1.1'],
  CONTENT_LENGTH: ['header', 'Size of the request body in bytes; the script reads exactly this much from stdin.', '4.1.2'],
  CONTENT_TYPE: ['header', 'Media type of the body (the Content-Type header).', '4.1.3'],
  GATEWAY_INTERFACE: ['server', 'The CGI version the server speaks: CGI/1.1.', '4.1.4'],
  PATH_INFO: ['request line', 'The part of the path after the script name.', '4.1.5'],
  PATH_TRANSLATED: ['server', 'PATH_INFO mapped onto the document root, as a file path.', '4.1.6'],
  QUERY_STRING: ['request line', 'Everything after the ?, still URL-encoded.', '4.1.7'],
  REMOTE_ADDR: ['connection', 'The client\'s IP address, from the TCP connection.', '4.1.8'],
  REMOTE_HOST: ['connection', 'The client\'s host name (forkfast does not look it up).', '4.1.9'],
  REMOTE_IDENT: ['connection', 'RFC 1413 identity: never set.', '4.1.10'],
  REMOTE_USER: ['header', 'The authenticated user, when the server authenticated.', '4.1.11'],
  REQUEST_METHOD: ['request line', 'The HTTP method: GET, POST…', '4.1.12'],
  SCRIPT_NAME: ['request line', 'The URL path that names the script: the mount plus the file.', '4.1.13'],
  SERVER_NAME: ['header', 'The host the client asked for (the Host header), else the server\'s own.', '4.1.14'],
  SERVER_PORT: ['connection', 'The port the request arrived on.', '4.1.15'],
  SERVER_PROTOCOL: ['request line', 'The HTTP version of the request line.', '4.1.16'],
  SERVER_SOFTWARE: ['server', 'Name and version of the gateway.', '4.1.17'],
  REQUEST_URI: ['request line', 'The request-target as received (not in RFC 3875; Apache and nginx set it).', null],
  DOCUMENT_ROOT: ['server', 'The server\'s document root (not in RFC 3875; a common extension).', null],
  SCRIPT_FILENAME: ['server', 'The script\'s file on disk (not in RFC 3875; PHP and FastCGI servers need it).', null],
  REMOTE_PORT: ['connection', 'The client\'s TCP port (a common extension).', null],
  SERVER_ADDR: ['connection', 'The address the request arrived on (a common extension).', null],
  REQUEST_SCHEME: ['server', 'http or https (a common extension).', null],
  HTTPS: ['server', 'on when the request came over TLS.', null],
  PATH: ['server', 'Where the script finds programs: set by the server, never from the client.', null],
  REDIRECT_STATUS: ['server', 'Set after a CGI local redirect (RFC 3875 §6.2.2) and for php-cgi.', null],
};

/** Source and meaning of a name; HTTP_* come from request headers (§4.1.18). */
export function describe(name) {
  if (META[name]) {
    const [source, meaning, section] = META[name];
    return { source, meaning, href: section ? R + section : null };
  }
  if (name.startsWith('HTTP_')) {
    const header = name.slice(5).toLowerCase().replace(/_/g, '-');
    return { source: 'header', meaning: `The ${header} request header (protocol-specific meta-variable).`, href: R + '4.1.18' };
  }
  if (name.startsWith('REDIRECT_')) return { source: 'server', meaning: 'The value before a local redirect.', href: R + '6.2.2' };
  return { source: 'server', meaning: 'Set by the server or passed by the operator (--pass-env).', href: null };
}
