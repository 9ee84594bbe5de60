// The kernel's accept queue of a listening TCP socket (PHP-FPM's `listen queue`), from /proc/net.
//
// For a socket in LISTEN state Linux shows, in /proc/net/tcp and tcp6, the connections waiting to
// be accepted as rx_queue and the backlog limit as tx_queue. Unix sockets show neither: they
// report 0, as PHP-FPM does where it cannot read the queue.
import { readFile } from 'node:fs/promises';
import type { ListenAddress } from '../config-parse.js';

export interface ListenQueue {
  /** Connections accepted by the kernel, not yet by a worker. */
  readonly queued: number;
  /** The backlog limit (`listen queue len`). */
  readonly backlog: number;
}

const LISTEN = '0A';

export async function readListenQueue(listen: ListenAddress): Promise<ListenQueue> {
  if (listen.kind !== 'tcp') return { queued: 0, backlog: 0 };
  const port = listen.port.toString(16).toUpperCase().padStart(4, '0');
  let queued = 0;
  let backlog = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue ...
      if (f.length < 5 || f[3] !== LISTEN || !f[1]!.endsWith(`:${port}`)) continue;
      const [tx, rx] = f[4]!.split(':');
      queued += Number.parseInt(rx ?? '0', 16) || 0;
      backlog = Math.max(backlog, Number.parseInt(tx ?? '0', 16) || 0);
    }
  }
  return { queued, backlog };
}
