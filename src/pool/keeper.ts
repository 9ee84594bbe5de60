// The socket keeper: a process that holds the pool's listening socket open and never accepts.
//
// Why: node:cluster closes the listening socket when its last worker exits (the master's shared
// handle goes with the last worker that holds it). With every worker dead at once (kill -9 of
// all of them, a crash on the same request), connections would be refused, and a web server in
// front answers 502 (nginx retries no POST). With the keeper holding a copy, the socket stays in
// the listening state: new connections wait in the kernel's backlog until a fresh worker accepts
// them, as they would behind PHP-FPM's or gunicorn's master, which own the socket themselves.
//
// It takes the handle like any worker (so cluster keeps sharing the same socket with workers
// forked later), then blocks its event loop: a process that does not call accept() takes no
// connection (the others take the whole backlog). It checks every second that its master lives.
import net from 'node:net';
import type { ListenAddress } from '../config-parse.js';

/** The environment variable that makes a forked worker entry a keeper (its value: the listen address, JSON). */
export const KEEPER_ENV = 'FORKFAST_POOL_KEEPER';

export function runKeeper(listen: ListenAddress): void {
  const master = process.ppid;
  const server = net.createServer();
  server.once('error', (err) => {
    process.stderr.write(`forkfast pool keeper: cannot hold the listening socket: ${err.message}\n`);
    process.exit(3);
  });
  const opts = listen.kind === 'unix' ? { path: listen.path } : { host: listen.host, port: listen.port };
  // Blocks inside the 'listening' callback, which runs before the event loop polls the new
  // handle: the keeper never accepts even one connection.
  server.listen(opts, () => block(master));
}

function block(master: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  // Never returns to the event loop: no accept, no IPC. SIGTERM and SIGKILL end it (no handler).
  for (;;) {
    Atomics.wait(cell, 0, 0, 1000);
    if (process.ppid !== master) process.exit(0);
  }
}
