// Unix socket paths left behind by a process that died: removed only when nobody answers on them.
import { lstat, unlink } from 'node:fs/promises';
import net from 'node:net';

/**
 * Before binding a unix socket path: a socket file nobody accepts on is removed (a crash left
 * it); a live one is reported (its path is returned) and never touched; any other file is left
 * for bind() to refuse with EADDRINUSE.
 */
export async function clearStaleSocket(path: string): Promise<string | null> {
  try {
    if (!(await lstat(path)).isSocket()) return null;
  } catch {
    return null;
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) return path;
  await unlink(path).catch(() => {});
  return null;
}
