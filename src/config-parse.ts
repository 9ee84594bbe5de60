// Parsers for option values (flags, FORKFAST_* variables and config-file values alike).
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

export type ListenAddress = { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

export function formatListen(a: ListenAddress): string {
  if (a.kind === 'unix') return a.path;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`invalid port in ${what}: "${text}" (expected 0-65535)`);
  return Number(text);
}

/** A host name or an IPv4 literal, or the inside of `[...]` for IPv6: nothing a resolver would choke on. */
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const HOST_V6 = /^[0-9a-fA-F:.]+$/;

/** `unix:PATH` or a path with a '/': the socket path made absolute (relative = where forkfast ran). */
function unixPath(text: string, what: string): string | undefined {
  if (text.startsWith('unix:')) {
    const path = text.slice(5).trim();
    if (path === '') throw new UsageError(`invalid ${what} "${text}" (unix: needs a socket path)`);
    return resolve(path);
  }
  return text.includes('/') ? resolve(text) : undefined;
}

/** A port, `host:port`, `[v6]:port`, or a unix socket path (`unix:PATH` or anything with a '/'). */
export function parseListen(value: unknown, defaultHost = '127.0.0.1'): ListenAddress {
  const text = String(value).trim();
  const path = unixPath(text, 'listen address');
  if (path !== undefined) return { kind: 'unix', path };
  if (/^\d+$/.test(text)) return { kind: 'tcp', host: defaultHost, port: parsePort(text, `listen address "${text}"`) };
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m || !(HOST.test(m[1]!) || HOST_V6.test(m[1]!))) throw new UsageError(`invalid listen address "${text}" (expected PORT, HOST:PORT, [IPv6]:PORT or a unix socket path)`);
  return { kind: 'tcp', host: m[1]!, port: parsePort(m[2]!, `listen address "${text}"`) };
}

/**
 * A FastCGI server to connect to: `host:port`, `[v6]:port`, `unix:PATH` or a path with a '/'.
 * Returns the form the FastCGI client takes (`host:port`, `[v6]:port` or `unix:/absolute/path`).
 */
export function parseUpstream(value: unknown, what: string): string {
  const text = String(value).trim();
  const path = unixPath(text, what);
  if (path !== undefined) return 'unix:' + path;
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m || !(HOST.test(m[1]!) || HOST_V6.test(m[1]!))) throw new UsageError(`invalid ${what} "${text}" (expected HOST:PORT, [IPv6]:PORT or unix:/path/to.sock)`);
  const port = Number(m[2]);
  if (!/^\d{1,5}$/.test(m[2]!) || port < 1 || port > 65535) throw new UsageError(`invalid port in ${what} "${text}": ${m[2]!} (expected 1-65535)`);
  return text.startsWith('[') ? `[${m[1]!}]:${port}` : `${m[1]!}:${port}`;
}

export function parseDirectory(value: unknown, what: string): string {
  const dir = resolve(String(value));
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`${what} directory not found: ${dir}`);
  return dir;
}

export function parseInteger(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw new UsageError(`invalid ${what}: "${text}" (expected an integer)`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`invalid ${what}: ${text} (expected ${min}..${max})`);
  return n;
}

/** Node's timers hold at most 2^31-1 ms; a longer one fires after 1 ms (TimeoutOverflowWarning). */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Seconds (fractions allowed) to milliseconds. */
export function parseSeconds(value: unknown, what: string): number {
  const text = String(value).trim();
  if (!/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`invalid ${what}: "${text}" (expected seconds)`);
  if (Number(text) > MAX_SECONDS) throw new UsageError(`invalid ${what}: ${text} (expected at most ${MAX_SECONDS} seconds)`);
  return Math.round(Number(text) * 1000);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes with an optional k/m/g suffix (binary units, as nginx's client_max_body_size). */
export function parseSize(value: unknown, what: string): number {
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(String(value).trim());
  const n = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`invalid ${what}: "${String(value)}" (expected bytes, e.g. 65536, 64k, 100m)`);
  return n;
}

export function parseBoolean(value: unknown, what: string): boolean {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  throw new UsageError(`invalid ${what}: "${text}" (expected true or false)`);
}

export function parseLogLevel(value: unknown): LogLevel {
  const text = String(value).trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(text)) throw new UsageError(`invalid log level "${text}" (expected one of ${LOG_LEVELS.join(', ')})`);
  return text as LogLevel;
}

/** A file to write (a log): its directory must exist; the file is created when missing. */
export function parseWritableFile(value: unknown, what: string): string {
  const text = String(value).trim();
  if (text === '') throw new UsageError(`invalid ${what}: an empty path`);
  const path = resolve(text);
  let ok = false;
  try {
    ok = statSync(dirname(path)).isDirectory() && !statSync(path, { throwIfNoEntry: false })?.isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`invalid ${what}: ${path} (its directory does not exist, or it is a directory)`);
  return path;
}

export function parseChoice<T extends string>(value: unknown, what: string, choices: readonly T[]): T {
  const text = String(value).trim();
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`invalid ${what} "${text}" (expected one of ${choices.join(', ')})`);
  return text as T;
}

/** A list option: repeated flags, a JSON array in the file, or a comma-separated variable. */
export function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return [String(value)];
}
