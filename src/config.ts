// Configuration: one table of options per command; values merge flags > FORKFAST_* > file > defaults.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from './errors.js';
import * as p from './config-parse.js';

export type { ListenAddress } from './config-parse.js';

export interface OptionSpec {
  /** camelCase key: the config-file key and the commander attribute name. */
  readonly key: string;
  /** commander flag syntax, e.g. '-l, --listen <addr>'. */
  readonly flags: string;
  readonly description: string;
  /** Shown in --help; the value used when nothing else sets the option. */
  readonly defaultValue?: unknown;
  /** Repeatable flag: values accumulate into an array. */
  readonly repeatable?: boolean;
  /** A boolean flag that also has its `--no-` form (false). */
  readonly negatable?: boolean;
}

/** Where one option's value came from: useful in logs and for tests of the precedence rules. */
export type ValueSource = 'flag' | 'env' | 'file' | 'default';

export function envName(key: string): string {
  return 'FORKFAST_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export interface RawSources {
  /** Values commander parsed from argv, only those the user gave. */
  readonly flags: Record<string, unknown>;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Merges the sources for the given options. The config file is named by --config or
 * FORKFAST_CONFIG; it is JSON with the options' camelCase (or kebab-case) keys.
 */
export function mergeSources(specs: readonly OptionSpec[], raw: RawSources): { values: Record<string, unknown>; sources: Record<string, ValueSource> } {
  const configPath = raw.flags['config'] ?? raw.env['FORKFAST_CONFIG'];
  const file = configPath === undefined ? {} : readConfigFile(String(configPath), specs);
  const values: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  for (const spec of specs) {
    const fromEnv = raw.env[envName(spec.key)];
    if (raw.flags[spec.key] !== undefined) {
      values[spec.key] = raw.flags[spec.key];
      sources[spec.key] = 'flag';
    } else if (fromEnv !== undefined && fromEnv !== '') {
      values[spec.key] = fromEnv;
      sources[spec.key] = 'env';
    } else if (file[spec.key] !== undefined) {
      values[spec.key] = file[spec.key];
      sources[spec.key] = 'file';
    } else {
      values[spec.key] = spec.defaultValue;
      sources[spec.key] = 'default';
    }
  }
  return { values, sources };
}

function readConfigFile(path: string, specs: readonly OptionSpec[]): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new UsageError(`cannot read config file ${path}: ${why}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`config file ${path} must hold a JSON object`);
  const known = new Set(specs.map((s) => s.key));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!known.has(key)) throw new UsageError(`unknown option "${k}" in config file ${path}`);
    out[key] = v;
  }
  return out;
}

const CPUS = availableParallelism();

const common: OptionSpec[] = [
  { key: 'config', flags: '--config <file>', description: 'JSON config file (keys are option names)' },
  { key: 'logLevel', flags: '--log-level <level>', description: 'fatal, error, warn, info, debug, trace or silent', defaultValue: 'info' },
  { key: 'cgiBin', flags: '--cgi-bin <dir>', description: 'directory of CGI programs and handler modules', defaultValue: 'cgi-bin' },
  { key: 'workers', flags: '--workers <n>', description: 'resident FastCGI worker processes', defaultValue: String(CPUS) },
  { key: 'maxRequests', flags: '--max-requests <n>', description: 'recycle a worker after this many requests (0: never)', defaultValue: '0' },
  { key: 'maxRequestsJitter', flags: '--max-requests-jitter <n>', description: 'random extra requests before recycling, so workers do not all restart at once', defaultValue: '0' },
  { key: 'fetchObjects', flags: '--fetch-objects <kind>', description: 'light (a Response without a stream until needed, as @hono/node-server) or standard, in resident workers', defaultValue: 'light' },
  { key: 'workerTimeout', flags: '--worker-timeout <s>', description: 'kill a worker whose event loop is blocked this long', defaultValue: '30' },
  { key: 'cgiTimeout', flags: '--cgi-timeout <s>', description: 'total time a forked script may run', defaultValue: '60' },
  { key: 'cgiIdleTimeout', flags: '--cgi-idle-timeout <s>', description: 'time a forked script may stay silent', defaultValue: '30' },
  { key: 'maxChildren', flags: '--max-children <n>', description: 'forked scripts running at once (per process)', defaultValue: String(4 * CPUS) },
  { key: 'queueSize', flags: '--queue-size <n>', description: 'requests waiting for a child slot before 503', defaultValue: '256' },
  { key: 'spawnBackend', flags: '--spawn-backend <kind>', description: 'auto, native (posix_spawn helper) or node (child_process)', defaultValue: 'auto' },
  { key: 'passEnv', flags: '--pass-env <NAME[=VALUE]>', description: 'pass a variable to scripts (repeatable)', repeatable: true, defaultValue: [] },
  { key: 'passAuthorization', flags: '--pass-authorization', description: 'give scripts the Authorization header (HTTP_AUTHORIZATION)' },
  { key: 'shutdownTimeout', flags: '--shutdown-timeout <s>', description: 'graceful stop deadline', defaultValue: '10' },
  { key: 'pid', flags: '--pid <file>', description: 'write the master pid to this file (for forkfast reload and stop)' },
];

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { key: 'listen', flags: '-l, --listen <addr>', description: 'port, host:port or unix socket path', defaultValue: '127.0.0.1:8080' },
  { key: 'public', flags: '--public <dir>', description: 'directory of static files', defaultValue: 'public' },
  ...common,
  { key: 'reload', flags: '--reload', description: 'edits go live (on unless --no-reload): an edited handler module in cgi-bin rolls new pool workers', defaultValue: true, negatable: true },
  { key: 'upstream', flags: '--upstream <addr>', description: 'external forkfast pool for /fcgi-bin/ (repeatable; default: an embedded pool)', repeatable: true, defaultValue: [] },
  { key: 'fastcgi', flags: '--fastcgi <prefix=addr>', description: 'mount any FastCGI server, e.g. /php/=unix:/run/php/php-fpm.sock (repeatable)', repeatable: true, defaultValue: [] },
  { key: 'authorizer', flags: '--authorizer <prefix=addr>', description: 'ask this FastCGI Authorizer before serving anything under prefix, e.g. /private/=127.0.0.1:9100 (repeatable)', repeatable: true, defaultValue: [] },
  { key: 'docroot', flags: '--docroot <dir>', description: 'document root for --fastcgi mounts (SCRIPT_FILENAME)' },
  { key: 'maxHeaderSize', flags: '--max-header-size <bytes>', description: 'request head size limit (431 past it)', defaultValue: '16k' },
  { key: 'maxBodySize', flags: '--max-body-size <bytes>', description: 'request body limit (413 past it)', defaultValue: '100m' },
  { key: 'headersTimeout', flags: '--headers-timeout <s>', description: 'time to receive the request head (slowloris)', defaultValue: '20' },
  { key: 'requestTimeout', flags: '--request-timeout <s>', description: 'time to receive the whole request', defaultValue: '300' },
  { key: 'keepAliveTimeout', flags: '--keep-alive-timeout <s>', description: 'idle keep-alive connection lifetime', defaultValue: '5' },
];

export const POOL_OPTIONS: readonly OptionSpec[] = [
  { key: 'listen', flags: '-l, --listen <addr>', description: 'FastCGI listen address: port, host:port or unix socket path', defaultValue: '127.0.0.1:9000' },
  ...common,
  { key: 'reload', flags: '--reload', description: 'edits go live (off unless --reload): an edited handler module in cgi-bin rolls new workers, as SIGHUP does', defaultValue: false, negatable: true },
  { key: 'authorizerScript', flags: '--authorizer-script <name>', description: 'script in --cgi-bin that answers every FastCGI Authorizer request (else SCRIPT_FILENAME names it)' },
  { key: 'protocol', flags: '--protocol <name>', description: 'what the web server speaks on --listen: fastcgi, uwsgi or scgi', defaultValue: 'fastcgi' },
];

export interface Limits {
  readonly maxHeaderSize: number;
  readonly maxBodySize: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
}

export interface ScriptOptions {
  readonly cgiBin: string;
  readonly cgiTimeoutMs: number;
  readonly cgiIdleTimeoutMs: number;
  readonly maxChildren: number;
  readonly queueSize: number;
  readonly spawnBackend: 'auto' | 'native' | 'node';
  readonly passEnv: Readonly<Record<string, string>>;
  readonly passAuthorization: boolean;
  /** pool: the script (relative to cgiBin, or absolute inside it) for FCGI_AUTHORIZER requests. */
  readonly authorizerScript?: string;
}

export interface WorkerOptions {
  readonly workers: number;
  readonly maxRequests: number;
  readonly maxRequestsJitter: number;
  readonly workerTimeoutMs: number;
  /** Resident workers' Response: light (light-response.ts) or the platform's own. */
  readonly fetchObjects: 'light' | 'standard';
}

export interface FastcgiMountOption {
  readonly prefix: string;
  readonly upstream: string;
}

export interface ServeConfig {
  readonly listen: p.ListenAddress;
  readonly publicDir: string;
  readonly logLevel: ReturnType<typeof p.parseLogLevel>;
  readonly scripts: ScriptOptions;
  readonly pool: WorkerOptions;
  readonly upstreams: readonly string[];
  readonly fastcgiMounts: readonly FastcgiMountOption[];
  /** --authorizer: FastCGI Authorizers (§6.3) guarding path prefixes. */
  readonly authorizers: readonly FastcgiMountOption[];
  readonly docroot: string | undefined;
  readonly limits: Limits;
  readonly pidFile: string | undefined;
  /** Edits go live (the embedded pool watches cgi-bin). */
  readonly reload: boolean;
}

export interface PoolConfig {
  readonly listen: p.ListenAddress;
  readonly logLevel: ReturnType<typeof p.parseLogLevel>;
  readonly scripts: ScriptOptions;
  readonly pool: WorkerOptions;
  readonly shutdownTimeoutMs: number;
  readonly pidFile: string | undefined;
  readonly reload: boolean;
  /** The protocol of --listen: nginx's fastcgi_pass, uwsgi_pass or scgi_pass. */
  readonly protocol: PoolProtocol;
}

export type PoolProtocol = 'fastcgi' | 'uwsgi' | 'scgi';

function parsePassEnv(list: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`invalid --pass-env name "${name}"`);
    const value = eq < 0 ? env[name] : item.slice(eq + 1);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function scriptOptions(v: Record<string, unknown>, env: NodeJS.ProcessEnv): ScriptOptions {
  return {
    cgiBin: p.parseDirectory(v['cgiBin'], 'cgi-bin'),
    cgiTimeoutMs: p.parseSeconds(v['cgiTimeout'], 'cgi timeout'),
    cgiIdleTimeoutMs: p.parseSeconds(v['cgiIdleTimeout'], 'cgi idle timeout'),
    maxChildren: p.parseInteger(v['maxChildren'], 'max children', 1, 100_000),
    queueSize: p.parseInteger(v['queueSize'], 'queue size', 0, 1_000_000),
    spawnBackend: p.parseChoice(v['spawnBackend'], 'spawn backend', ['auto', 'native', 'node'] as const),
    passEnv: parsePassEnv(p.asList(v['passEnv']), env),
    passAuthorization: v['passAuthorization'] === undefined ? false : p.parseBoolean(v['passAuthorization'], 'pass-authorization'),
  };
}

function workerOptions(v: Record<string, unknown>): WorkerOptions {
  return {
    workers: p.parseInteger(v['workers'], 'worker count', 1, 1024),
    maxRequests: p.parseInteger(v['maxRequests'], 'max requests', 0),
    maxRequestsJitter: p.parseInteger(v['maxRequestsJitter'], 'max requests jitter', 0),
    workerTimeoutMs: p.parseSeconds(v['workerTimeout'], 'worker timeout'),
    fetchObjects: p.parseChoice(v['fetchObjects'], 'fetch objects', ['light', 'standard'] as const),
  };
}

function parseFastcgiMount(item: string, flag = '--fastcgi'): FastcgiMountOption {
  const eq = item.indexOf('=');
  const prefix = eq < 0 ? '' : item.slice(0, eq);
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new UsageError(`invalid ${flag} "${item}" (expected /prefix/=host:port or /prefix/=unix:/path)`);
  let upstream = item.slice(eq + 1);
  // A unix socket path is made absolute here, so a relative one means the directory forkfast ran in.
  if (upstream.startsWith('unix:')) upstream = 'unix:' + resolve(upstream.slice(5));
  else if (upstream.includes('/')) upstream = 'unix:' + resolve(upstream);
  if (upstream === '' || upstream === 'unix:') throw new UsageError(`invalid ${flag} "${item}": no upstream address`);
  return { prefix, upstream };
}

export function serveConfig(raw: RawSources): ServeConfig {
  const { values: v } = mergeSources(SERVE_OPTIONS, raw);
  const fastcgiMounts = p.asList(v['fastcgi']).map((item) => parseFastcgiMount(item));
  const docroot = v['docroot'] === undefined ? undefined : p.parseDirectory(v['docroot'], 'docroot');
  if (fastcgiMounts.length > 0 && docroot === undefined) throw new UsageError('--fastcgi needs --docroot (the directory SCRIPT_FILENAME is resolved in)');
  return {
    listen: p.parseListen(v['listen']),
    publicDir: p.parseDirectory(v['public'], 'public'),
    logLevel: p.parseLogLevel(v['logLevel']),
    scripts: scriptOptions(v, raw.env),
    pool: workerOptions(v),
    upstreams: p.asList(v['upstream']),
    fastcgiMounts,
    authorizers: p.asList(v['authorizer']).map((item) => parseFastcgiMount(item, '--authorizer')),
    docroot,
    limits: {
      maxHeaderSize: p.parseSize(v['maxHeaderSize'], 'max header size'),
      maxBodySize: p.parseSize(v['maxBodySize'], 'max body size'),
      headersTimeoutMs: p.parseSeconds(v['headersTimeout'], 'headers timeout'),
      requestTimeoutMs: p.parseSeconds(v['requestTimeout'], 'request timeout'),
      keepAliveTimeoutMs: p.parseSeconds(v['keepAliveTimeout'], 'keep-alive timeout'),
      shutdownTimeoutMs: p.parseSeconds(v['shutdownTimeout'], 'shutdown timeout'),
    },
    pidFile: v['pid'] === undefined ? undefined : String(v['pid']),
    reload: p.parseBoolean(v['reload'], 'reload'),
  };
}

export function poolConfig(raw: RawSources): PoolConfig {
  const { values: v } = mergeSources(POOL_OPTIONS, raw);
  return {
    listen: p.parseListen(v['listen']),
    logLevel: p.parseLogLevel(v['logLevel']),
    scripts: { ...scriptOptions(v, raw.env), ...(v['authorizerScript'] === undefined ? {} : { authorizerScript: String(v['authorizerScript']) }) },
    pool: workerOptions(v),
    shutdownTimeoutMs: p.parseSeconds(v['shutdownTimeout'], 'shutdown timeout'),
    pidFile: v['pid'] === undefined ? undefined : String(v['pid']),
    reload: p.parseBoolean(v['reload'], 'reload'),
    protocol: p.parseChoice(v['protocol'], 'protocol', ['fastcgi', 'uwsgi', 'scgi'] as const),
  };
}
