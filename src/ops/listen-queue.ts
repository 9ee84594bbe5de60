// The kernel's accept queue of a listening TCP socket (PHP-FPM's `listen queue`), from /proc/net.
//
// For a socket in LISTEN state Linux shows, in /proc/net/tcp and tcp6, the connections waiting to
// be accepted as rx_queue (tx_queue is the backlog limit on some kernels, 0 on others). The limit
// otherwise is what Node asks listen() for (511) capped by net.core.somaxconn. Unix sockets show
// no queue: they report 0, as PHP-FPM does where it cannot read the queue.
import { readFile } from 'node:fs/promises';
import type { ListenAddress } from '../config-parse.js';

export interface ListenQueue {
  /** Connections accepted by the kernel, not yet by a worker. */
  readonly queued: number;
  /** The backlog limit (`listen queue len`). */
  readonly backlog: number;
}

const LISTEN = '0A';
/** The backlog Node's net.Server#listen asks for when none is given. */
const NODE_BACKLOG = 511;

async function somaxconn(): Promise<number> {
  try {
    return Number.parseInt(await readFile('/proc/sys/net/core/somaxconn', 'latin1'), 10) || NODE_BACKLOG;
  } catch {
    return NODE_BACKLOG;
  }
}

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
  return { queued, backlog: backlog > 0 ? backlog : Math.min(NODE_BACKLOG, await somaxconn()) };
}
