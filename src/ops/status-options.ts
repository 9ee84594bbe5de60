// Who may read the status pages and where they are: the options shared by `serve` and `pool`.
import { BlockList, isIP } from 'node:net';
import * as p from '../config-parse.js';
import type { ListenAddress } from '../config-parse.js';
import type { OptionSpec } from '../config.js';
import { UsageError } from '../errors.js';

/** Options of both commands (config.ts spreads them into its tables). */
export const STATUS_OPTIONS: readonly OptionSpec[] = [
  { key: 'status', flags: '--status <on|off>', description: 'status, ping and metrics pages', defaultValue: 'on' },
  { key: 'statusAllow', flags: '--status-allow <addr|cidr>', description: 'clients allowed to read status and metrics (repeatable; default loopback only)', repeatable: true, defaultValue: [] },
  { key: 'slowRequest', flags: '--slow-request <s>', description: 'log requests running longer, with the JavaScript stack of a resident handler (0: off)', defaultValue: '0' },
];

/** `forkfast pool` only: PHP-FPM's status and ping paths, uWSGI's stats server. */
export const POOL_STATUS_OPTIONS: readonly OptionSpec[] = [
  { key: 'statusPath', flags: '--status-path <path>', description: 'SCRIPT_NAME that answers the pool status (PHP-FPM pm.status_path), e.g. /status' },
  { key: 'pingPath', flags: '--ping-path <path>', description: 'SCRIPT_NAME that answers "pong" (PHP-FPM ping.path), e.g. /ping' },
  { key: 'stats', flags: '--stats <addr>', description: 'HTTP listener for status and metrics, e.g. 127.0.0.1:9191' },
  { key: 'poolName', flags: '--pool-name <name>', description: 'the pool\'s name on status pages', defaultValue: 'forkfast' },
];

function parsePath(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  const path = String(value);
  if (!path.startsWith('/')) throw new UsageError(`${what} must start with "/" (got "${path}")`);
  return path;
}

export function parseStatusOptions(v: Record<string, unknown>): StatusOptions {
  const allow = p.asList(v['statusAllow']);
  const list = allow.length > 0 ? allow : [...LOOPBACK];
  allowList(list); // fails early on a bad entry
  return {
    enabled: p.parseBoolean(v['status'] ?? 'on', 'status'),
    allow: list,
    poolName: v['poolName'] === undefined ? 'forkfast' : String(v['poolName']),
    statusPath: parsePath(v['statusPath'], '--status-path'),
    pingPath: parsePath(v['pingPath'], '--ping-path'),
    stats: v['stats'] === undefined ? undefined : p.parseListen(v['stats']),
    slowRequestMs: p.parseSeconds(v['slowRequest'] ?? '0', 'slow request'),
  };
}

export interface StatusOptions {
  /** --status off: no status, ping or metrics anywhere. */
  readonly enabled: boolean;
  /** Addresses or CIDRs allowed to read them (--status-allow); default loopback only. */
  readonly allow: readonly string[];
  /** The pool's name on status pages (PHP-FPM's `pool`). */
  readonly poolName: string;
  /** Pool: the SCRIPT_NAME answered with the status (PHP-FPM's pm.status_path). */
  readonly statusPath?: string | undefined;
  /** Pool: the SCRIPT_NAME answered with "pong" (PHP-FPM's ping.path). */
  readonly pingPath?: string | undefined;
  /** Pool: an HTTP listener for status and metrics (uWSGI's stats server). */
  readonly stats?: ListenAddress | undefined;
  /** --slow-request: log requests running past this (ms), with the stack; 0: off. */
  readonly slowRequestMs: number;
}

export const LOOPBACK: readonly string[] = ['127.0.0.0/8', '::1'];

/** A predicate on a client address ('' or undefined: a unix socket peer, which is local). */
export type AllowCheck = (address: string | undefined) => boolean;

export function allowList(entries: readonly string[]): AllowCheck {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/');
    const family = isIP(addr ?? '');
    if (family === 0) throw new UsageError(`invalid --status-allow entry "${entry}" (expected an address or a CIDR)`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) throw new UsageError(`invalid prefix length in --status-allow "${entry}"`);
      list.addSubnet(addr!, prefix, type);
    }
  }
  return (address) => {
    if (address === undefined || address === '') return true;
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(plain);
    if (family === 0) return false;
    return list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  };
}
