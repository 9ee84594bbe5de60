// Configuration: one table of options per command; values merge flags > FORKFAST_* > file > defaults.
import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';
import * as p from './config-parse.js';
import { ConfigProblems, OptionReader, mergeSources, type OptionSpec, type RawSources } from './config-sources.js';
import { STATUS_OPTIONS, POOL_STATUS_OPTIONS, parseStatusOptions, type StatusOptions } from './ops/status-options.js';
import { labAllow } from './ops/lab-allow.js';

/** The entries as given, once ops/lab-allow accepted every one (it throws UsageError otherwise). */
function parseLabAllow(value: unknown): string[] {
  const list = p.asList(value);
  labAllow(list);
  return list;
}

export type { ListenAddress } from './config-parse.js';
export { envName, mergeSources, type OptionSpec, type RawSources, type ValueSource } from './config-sources.js';

const CPUS = availableParallelism();

const common: OptionSpec[] = [
  { key: 'config', flags: '--config <file>', description: 'JSON config file (keys are option names)' },
  { key: 'logLevel', flags: '--log-level <level>', description: 'fatal, error, warn, info, debug, trace or silent', defaultValue: 'info' },
  { key: 'cgiBin', flags: '--cgi-bin <dir>', description: 'directory of CGI programs and handler modules', defaultValue: 'cgi-bin' },
  { key: 'logFile', flags: '--log-file <path>', description: 'write the log (JSON lines) to this file instead of stdout; reopened on SIGUSR1', defaultText: 'stdout' },
  { key: 'workers', flags: '--workers <n>', description: 'resident FastCGI worker processes', defaultValue: String(CPUS), defaultText: `number of CPUs, here ${CPUS}` },
  { key: 'maxRequests', flags: '--max-requests <n>', description: 'recycle a worker after this many requests (0: never)', defaultValue: '0' },
  { key: 'maxRequestsJitter', flags: '--max-requests-jitter <n>', description: 'random extra requests before recycling, so workers do not all restart at once', defaultValue: '0' },
  { key: 'fetchObjects', flags: '--fetch-objects <kind>', description: 'light (a Response without a stream until needed, as @hono/node-server) or standard, in resident workers', defaultValue: 'light' },
  { key: 'workerTimeout', flags: '--worker-timeout <s>', description: 'kill a worker whose event loop is blocked this long', defaultValue: '30' },
  { key: 'cgiTimeout', flags: '--cgi-timeout <s>', description: 'total time a forked script may run', defaultValue: '60' },
  { key: 'cgiIdleTimeout', flags: '--cgi-idle-timeout <s>', description: 'time a forked script may stay silent', defaultValue: '30' },
  { key: 'maxChildren', flags: '--max-children <n>', description: 'forked scripts running at once (per process)', defaultValue: String(4 * CPUS), defaultText: `4 x CPUs, here ${4 * CPUS}` },
  { key: 'queueSize', flags: '--queue-size <n>', description: 'requests waiting for a child slot before 503', defaultValue: '256' },
  { key: 'spawnBackend', flags: '--spawn-backend <kind>', description: 'auto, native (clone helper addon) or node (child_process)', defaultValue: 'auto' },
  { key: 'passEnv', flags: '--pass-env <NAME[=VALUE]>', description: 'pass a variable to scripts (repeatable)', repeatable: true, defaultValue: [] },
  { key: 'passAuthorization', flags: '--pass-authorization', description: 'give scripts the Authorization header (HTTP_AUTHORIZATION)' },
  { key: 'shutdownTimeout', flags: '--shutdown-timeout <s>', description: 'graceful stop deadline', defaultValue: '10' },
  { key: 'pid', flags: '--pid <file>', description: 'write the master pid to this file (for forkfast reload and stop)' },
  ...STATUS_OPTIONS,
];

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { key: 'listen', flags: '-l, --listen <addr>', description: 'port, host:port or unix socket path', defaultValue: '127.0.0.1:8080' },
  { key: 'public', flags: '--public <dir>', description: 'directory of static files', defaultValue: 'public' },
  ...common,
  { key: 'reload', flags: '--reload', description: 'edits go live (on unless --no-reload): an edited handler module in cgi-bin rolls new pool workers', defaultValue: true, negatable: true },
  { key: 'accessLog', flags: '--access-log <format>', description: 'access log: json (a line in the log), combined (Apache/NCSA, as GoAccess reads) or off', defaultValue: 'json' },
  { key: 'accessLogFile', flags: '--access-log-file <path>', description: 'write the access log to this file (reopened on SIGUSR1)', defaultText: 'where the log goes' },
  { key: 'upstream', flags: '--upstream <addr>', description: 'external forkfast pool for /fcgi-bin/ (repeatable; default: an embedded pool)', repeatable: true, defaultValue: [] },
  { key: 'fastcgi', flags: '--fastcgi <prefix=addr>', description: 'mount any FastCGI server, e.g. /php/=unix:/run/php/php-fpm.sock (repeatable)', repeatable: true, defaultValue: [] },
  { key: 'authorizer', flags: '--authorizer <prefix=addr>', description: 'ask this FastCGI Authorizer before serving anything under prefix, e.g. /private/=127.0.0.1:9100 (repeatable)', repeatable: true, defaultValue: [] },
  { key: 'docroot', flags: '--docroot <dir>', description: 'document root for --fastcgi mounts (SCRIPT_FILENAME)' },
  { key: 'fastcgiReadTimeout', flags: '--fastcgi-read-timeout <s>', description: 'a FastCGI request fails with 504 when its upstream sends nothing for this long (0: never)', defaultValue: '60' },
  { key: 'maxHeaderSize', flags: '--max-header-size <bytes>', description: 'request head size limit (431 past it)', defaultValue: '16k' },
  { key: 'maxBodySize', flags: '--max-body-size <bytes>', description: 'request body limit (413 past it)', defaultValue: '100m' },
  { key: 'headersTimeout', flags: '--headers-timeout <s>', description: 'time to receive the request head (slowloris)', defaultValue: '20' },
  { key: 'requestTimeout', flags: '--request-timeout <s>', description: 'time to receive the whole request', defaultValue: '300' },
  { key: 'keepAliveTimeout', flags: '--keep-alive-timeout <s>', description: 'idle keep-alive connection lifetime', defaultValue: '5' },
  { key: 'labAllow', flags: '--lab-allow <addr|cidr>', description: 'clients besides loopback that may use /-/lab and trace requests (repeatable)', repeatable: true, defaultValue: [] },
];

export const POOL_OPTIONS: readonly OptionSpec[] = [
  { key: 'listen', flags: '-l, --listen <addr>', description: 'FastCGI listen address: port, host:port or unix socket path', defaultValue: '127.0.0.1:9000' },
  ...common,
  { key: 'reload', flags: '--reload', description: 'edits go live (off unless --reload): an edited handler module in cgi-bin rolls new workers, as SIGHUP does', defaultValue: false, negatable: true },
  { key: 'authorizerScript', flags: '--authorizer-script <name>', description: 'script in --cgi-bin that answers every FastCGI Authorizer request (else SCRIPT_FILENAME names it)' },
  { key: 'protocol', flags: '--protocol <name>', description: 'what the web server speaks on --listen: fastcgi, uwsgi or scgi', defaultValue: 'fastcgi' },
  { key: 'listenMode', flags: '--listen-mode <octal>', description: 'unix socket permissions, whatever the umask (PHP-FPM listen.mode)', defaultValue: '0660' },
  { key: 'listenOwner', flags: '--listen-owner <user>', description: 'unix socket owner, a name or uid (PHP-FPM listen.owner)' },
  { key: 'listenGroup', flags: '--listen-group <group>', description: 'unix socket group, a name or gid (PHP-FPM listen.group)' },
  { key: 'allowedClients', flags: '--allowed-clients <addr,...>', description: 'TCP peers allowed to connect, others closed at accept (repeatable; default: any)', repeatable: true, defaultValue: [] },
  ...POOL_STATUS_OPTIONS,
];

/** Who may connect to `forkfast pool` (PHP-FPM's listen.mode, listen.owner, listen.group, listen.allowed_clients). */
export interface ListenAccess {
  readonly mode: number;
  readonly owner: string | undefined;
  readonly group: string | undefined;
  /** Empty: any peer. */
  readonly allowedClients: readonly string[];
}

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
  /** --fastcgi-read-timeout: /fcgi-bin/ and --fastcgi mounts; 0 disables. */
  readonly fastcgiReadTimeoutMs: number;
  readonly limits: Limits;
  readonly pidFile: string | undefined;
  /** Edits go live (the embedded pool watches cgi-bin). */
  readonly reload: boolean;
  readonly logFile: string | undefined;
  readonly accessLog: AccessLogFormat;
  readonly accessLogFile: string | undefined;
  readonly status: StatusOptions;
  /** Addresses or CIDRs that may use the lab, besides loopback (checked by ops/lab-allow). */
  readonly labAllow: readonly string[];
}

export type AccessLogFormat = 'off' | 'json' | 'combined';

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
  readonly logFile: string | undefined;
  readonly access: ListenAccess;
  readonly status: StatusOptions;
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

function scriptOptions(r: OptionReader, env: NodeJS.ProcessEnv): ScriptOptions {
  return {
    cgiBin: r.take('cgiBin', (v) => p.parseDirectory(v, 'cgi-bin')),
    cgiTimeoutMs: r.take('cgiTimeout', (v) => p.parseSeconds(v, 'cgi timeout')),
    cgiIdleTimeoutMs: r.take('cgiIdleTimeout', (v) => p.parseSeconds(v, 'cgi idle timeout')),
    maxChildren: r.take('maxChildren', (v) => p.parseInteger(v, 'max children', 1, 100_000)),
    queueSize: r.take('queueSize', (v) => p.parseInteger(v, 'queue size', 0, 1_000_000)),
    spawnBackend: r.take('spawnBackend', (v) => p.parseChoice(v, 'spawn backend', ['auto', 'native', 'node'] as const)),
    passEnv: r.take('passEnv', (v) => parsePassEnv(p.asList(v), env)),
    passAuthorization: r.take('passAuthorization', (v) => (v === undefined ? false : p.parseBoolean(v, 'pass-authorization'))),
  };
}

function workerOptions(r: OptionReader): WorkerOptions {
  return {
    workers: r.take('workers', (v) => p.parseInteger(v, 'worker count', 1, 1024)),
    maxRequests: r.take('maxRequests', (v) => p.parseInteger(v, 'max requests', 0)),
    maxRequestsJitter: r.take('maxRequestsJitter', (v) => p.parseInteger(v, 'max requests jitter', 0)),
    workerTimeoutMs: r.take('workerTimeout', (v) => p.parseSeconds(v, 'worker timeout')),
    fetchObjects: r.take('fetchObjects', (v) => p.parseChoice(v, 'fetch objects', ['light', 'standard'] as const)),
  };
}

function parseFastcgiMount(item: string, flag = '--fastcgi'): FastcgiMountOption {
  const eq = item.indexOf('=');
  const prefix = eq < 0 ? '' : item.slice(0, eq);
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new UsageError(`invalid ${flag} "${item}" (expected /prefix/=host:port or /prefix/=unix:/path)`);
  const upstream = item.slice(eq + 1).trim();
  if (upstream === '') throw new UsageError(`invalid ${flag} "${item}": no upstream address`);
  return { prefix, upstream: p.parseUpstream(upstream, `${flag} upstream`) };
}

const optionalFile = (what: string) => (v: unknown): string | undefined => (v === undefined ? undefined : p.parseWritableFile(v, what));

function finish<T>(r: OptionReader, command: string, config: T): T {
  if (r.problems.length > 0) throw new ConfigProblems(r.problems, command);
  return config;
}

/** Reads and validates `serve`'s options; throws ConfigProblems listing every problem found. */
export function serveConfig(raw: RawSources): ServeConfig {
  const r = new OptionReader(mergeSources(SERVE_OPTIONS, raw), SERVE_OPTIONS);
  const fastcgiMounts = r.take('fastcgi', (v) => p.asList(v).map((item) => parseFastcgiMount(item))) ?? [];
  const docroot = r.take('docroot', (v) => (v === undefined ? undefined : p.parseDirectory(v, 'docroot')));
  if (fastcgiMounts.length > 0 && docroot === undefined && r.raw('docroot') === undefined) {
    r.check(() => {
      throw new UsageError('--fastcgi needs --docroot (the directory SCRIPT_FILENAME is resolved in)');
    });
  }
  return finish(r, 'serve', {
    listen: r.take('listen', (v) => p.parseListen(v)),
    publicDir: r.take('public', (v) => p.parseDirectory(v, 'public')),
    logLevel: r.take('logLevel', (v) => p.parseLogLevel(v)),
    scripts: scriptOptions(r, raw.env),
    pool: workerOptions(r),
    upstreams: r.take('upstream', (v) => p.asList(v).map((u) => p.parseUpstream(u, '--upstream'))),
    fastcgiMounts,
    authorizers: r.take('authorizer', (v) => p.asList(v).map((item) => parseFastcgiMount(item, '--authorizer'))),
    docroot,
    fastcgiReadTimeoutMs: r.take('fastcgiReadTimeout', (v) => p.parseSeconds(v, 'FastCGI read timeout')),
    // Checked here so that a bad entry is bad usage (exit 2), not a failure at start.
    labAllow: r.take('labAllow', parseLabAllow),
    limits: {
      maxHeaderSize: r.take('maxHeaderSize', (v) => p.parseSize(v, 'max header size')),
      maxBodySize: r.take('maxBodySize', (v) => p.parseSize(v, 'max body size')),
      headersTimeoutMs: r.take('headersTimeout', (v) => p.parseSeconds(v, 'headers timeout')),
      requestTimeoutMs: r.take('requestTimeout', (v) => p.parseSeconds(v, 'request timeout')),
      keepAliveTimeoutMs: r.take('keepAliveTimeout', (v) => p.parseSeconds(v, 'keep-alive timeout')),
      shutdownTimeoutMs: r.take('shutdownTimeout', (v) => p.parseSeconds(v, 'shutdown timeout')),
    },
    pidFile: r.take('pid', optionalFile('--pid')),
    reload: r.take('reload', (v) => p.parseBoolean(v, 'reload')),
    logFile: r.take('logFile', optionalFile('--log-file')),
    accessLog: r.take('accessLog', (v) => p.parseChoice(v, 'access log format', ['json', 'combined', 'off'] as const)),
    accessLogFile: r.take('accessLogFile', optionalFile('--access-log-file')),
    status: r.take('status', () => parseStatusOptions(r.merged.values)),
  });
}

/** Reads and validates `pool`'s options; throws ConfigProblems listing every problem found. */
export function poolConfig(raw: RawSources): PoolConfig {
  const r = new OptionReader(mergeSources(POOL_OPTIONS, raw), POOL_OPTIONS);
  return finish(r, 'pool', {
    listen: r.take('listen', (v) => p.parseListen(v)),
    logLevel: r.take('logLevel', (v) => p.parseLogLevel(v)),
    scripts: { ...scriptOptions(r, raw.env), ...(r.raw('authorizerScript') === undefined ? {} : { authorizerScript: String(r.raw('authorizerScript')) }) },
    pool: workerOptions(r),
    shutdownTimeoutMs: r.take('shutdownTimeout', (v) => p.parseSeconds(v, 'shutdown timeout')),
    pidFile: r.take('pid', optionalFile('--pid')),
    logFile: r.take('logFile', optionalFile('--log-file')),
    reload: r.take('reload', (v) => p.parseBoolean(v, 'reload')),
    protocol: r.take('protocol', (v) => p.parseChoice(v, 'protocol', ['fastcgi', 'uwsgi', 'scgi'] as const)),
    access: {
      mode: r.take('listenMode', (v) => parseMode(v)),
      owner: r.take('listenOwner', (v) => (v === undefined ? undefined : String(v))),
      group: r.take('listenGroup', (v) => (v === undefined ? undefined : String(v))),
      allowedClients: r.take('allowedClients', (v) => ([] as unknown[]).concat(v ?? []).flatMap((a) => String(a).split(',')).map((a) => a.trim()).filter((a) => a !== '')),
    },
    status: r.take('status', () => parseStatusOptions(r.merged.values)),
  });
}

/** The option table of a command, for `forkfast config`. */
export const COMMAND_OPTIONS = { serve: SERVE_OPTIONS, pool: POOL_OPTIONS } as const;

function parseMode(value: unknown): number {
  const text = String(value).trim();
  if (!/^0?[0-7]{3}$/.test(text)) throw new UsageError(`invalid listen mode "${text}" (expected octal permissions such as 0660)`);
  return Number.parseInt(text, 8);
}
