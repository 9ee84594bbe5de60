// Who may talk to the pool: the unix socket's mode, owner and group, and TCP peers allowed
// (PHP-FPM's listen.mode, listen.owner, listen.group and listen.allowed_clients).
import { chmod, chown, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ListenAccess } from '../config.js';

/**
 * The umask under which the master binds a unix socket of `mode`: bind(2) creates the socket
 * file with 0777 & ~umask, so the socket never exists with wider permissions, whatever the
 * caller's umask (under umask 000 it would be 0777: any local user could run scripts).
 */
export function umaskFor(mode: number): number {
  return 0o777 & ~mode;
}

/** chmod, and chown when an owner or group is given, once the socket file exists. */
export async function applySocketAccess(path: string, access: ListenAccess): Promise<void> {
  await chmod(path, access.mode);
  if (access.owner === undefined && access.group === undefined) return;
  const uid = access.owner === undefined ? -1 : await resolveId(access.owner, '/etc/passwd', 'user');
  const gid = access.group === undefined ? -1 : await resolveId(access.group, '/etc/group', 'group');
  await chown(path, uid, gid);
}

/** A numeric id, or a name looked up in /etc/passwd or /etc/group (third field). */
async function resolveId(nameOrId: string, file: string, what: string): Promise<number> {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === nameOrId && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  throw new Error(`unknown ${what} "${nameOrId}" (not in ${file}; give a numeric id)`);
}

/** IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) compare as their IPv4 form. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** A predicate for the responder: true for a peer in `allowed` (any peer when it is empty). */
export function allowedClients(allowed: readonly string[]): ((remoteAddress: string | undefined) => boolean) | undefined {
  if (allowed.length === 0) return undefined;
  const set = new Set(allowed.map(plain));
  return (remote) => remote !== undefined && set.has(plain(remote));
}
