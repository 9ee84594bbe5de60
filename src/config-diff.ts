// Which configuration values differ between two loads of the same sources (SIGHUP re-reads them).
import { isDeepStrictEqual } from 'node:util';

/** Dotted names of the leaves that differ, e.g. `limits.maxBodySize`, `pool.workers`. */
export function changedKeys(before: object, after: object, prefix = ''): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    const a = (before as Record<string, unknown>)[key];
    const b = (after as Record<string, unknown>)[key];
    if (isDeepStrictEqual(a, b)) continue;
    const plain = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (plain(a) && plain(b)) out.push(...changedKeys(a, b, `${prefix}${key}.`));
    else out.push(prefix + key);
  }
  return out;
}
