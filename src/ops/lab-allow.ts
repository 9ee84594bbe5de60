// Who may use the lab and ask for traces: loopback always, and the addresses or CIDRs of --lab-allow.
import { BlockList, isIP } from 'node:net';
import { UsageError } from '../errors.js';

export type LabAllow = (remote: string | undefined) => boolean;

/**
 * A predicate over the client's address. Loopback (127.0.0.0/8, ::1, and IPv4 loopback mapped
 * into IPv6) is always allowed, like the status pages; `entries` open the lab to a classroom.
 */
export function labAllow(entries: readonly string[]): LabAllow {
  const list = new BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(addr);
    if (family === 0) throw new UsageError(`invalid --lab-allow entry "${entry}" (expected an address or a CIDR)`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (slash < 0) {
      list.addAddress(addr, type);
      continue;
    }
    const bits = Number(entry.slice(slash + 1));
    if (!Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) throw new UsageError(`invalid prefix length in --lab-allow "${entry}"`);
    list.addSubnet(addr, bits, type);
  }
  return (remote) => {
    if (remote === undefined) return true; // a unix socket: only this machine can connect
    if (remote.startsWith('::ffff:') && isIP(remote.slice(7)) === 4) return list.check(remote.slice(7), 'ipv4');
    return list.check(remote, isIP(remote) === 6 ? 'ipv6' : 'ipv4');
  };
}
