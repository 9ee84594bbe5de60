// Checks before any load: option values, script names, and one probe request per target path.

/** A one-line reason when the options cannot work, else null. */
export function checkOptions(o: {
  scripts: readonly string[];
  url?: string;
  duration: number;
  connections: number;
  warmup: number;
  workers?: number;
}): string | null {
  if (!(Number.isFinite(o.duration) && o.duration > 0)) return `--duration must be a positive number of seconds, got ${o.duration}`;
  if (!(Number.isInteger(o.connections) && o.connections >= 1)) return `--connections must be a positive integer, got ${o.connections}`;
  if (!(Number.isFinite(o.warmup) && o.warmup >= 0)) return `--warmup must be zero or more seconds, got ${o.warmup}`;
  if (o.workers !== undefined && !(Number.isInteger(o.workers) && o.workers >= 1)) return `--workers must be a positive integer, got ${o.workers}`;
  for (const s of o.scripts) {
    // A script is a path inside cgi-bin: never absolute, never climbing out of it.
    if (s === '' || s.startsWith('/') || s.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')) {
      return `bad script name "${s}": give a path inside cgi-bin, like hello.sh`;
    }
  }
  if (o.url !== undefined) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      return `--url is not a URL: ${o.url}`;
    }
    if (u.protocol !== 'http:') return `--url must be an http:// URL, got ${o.url}`;
  }
  return null;
}

export interface ProbeProblem {
  message: string;
  /** 2: bad input (the script does not exist), 1: the server is broken or unreachable. */
  code: 1 | 2;
}

/**
 * One GET before the load: a 404 on a script is an unknown script (bad input), an unreachable
 * server is a runtime failure. Other statuses are left to the load phase, which reports them.
 */
export async function probe(url: string, script: string | null, timeoutMs = 10000): Promise<ProbeProblem | null> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    return { message: `cannot reach ${url}: ${cause}`, code: 1 };
  }
  if (res.status === 404) {
    return script === null
      ? { message: `the static file ${url} answers 404: pick one with a static path that exists`, code: 2 }
      : { message: `unknown script "${script}": ${url} answers 404`, code: 2 };
  }
  return null;
}
