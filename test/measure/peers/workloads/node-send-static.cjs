// A plain node:http static server with the `send` package (what serve-static uses), for the static row of peers.sh.
// Usage: node node-send-static.cjs PORT ROOT (run with NODE_PATH pointing at a node_modules that has `send`)
'use strict';
const http = require('node:http');
const send = require('send');
const port = Number(process.argv[2]);
const root = process.argv[3];
http.createServer((req, res) => {
  send(req, new URL(req.url, 'http://x').pathname, { root }).on('error', (err) => {
    res.statusCode = err.status || 500;
    res.end();
  }).pipe(res);
}).listen(port, '127.0.0.1');
