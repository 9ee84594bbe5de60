// What a script may see: the one rule for every variable a request names, on every mount and transport.
//
// Exports:
//   headerVariable(lowerName) -> string          HTTP_* name of a request header; '' when never passed
//   requestMayName(name, passAuthorization) -> boolean
//                                                may a variable named by a request (a FastCGI
//                                                parameter, a header turned HTTP_*) reach a script?
//   DROPPED_HEADER_VARIABLES, SERVER_ONLY_VARIABLES, SERVER_ONLY_PREFIXES   the table, for docs and tests
//   DEFAULT_PATH                                 a script's PATH when --pass-env gives none
//
// Two sources name a script's variables. The server (forkfast's front, or nginx's fastcgi_param
// lines) builds the RFC 3875 §4.1 meta-variables; the operator adds PATH and --pass-env. A request
// only reaches HTTP_* names through its headers, but a FastCGI peer can name anything: whoever
// reaches the pool's socket could set LD_PRELOAD or BASH_ENV in a forked program's environment,
// which runs code before the script's first line. So a name from a request must pass this rule
// whether it came from a header under `serve` or from a parameter sent by nginx or cgi-fcgi.
//
// The server-only list joins what glibc drops in secure-execution mode (AT_SECURE: elf/rtld.c
// and sysdeps/generic/unsecvars.h, every LD_* name plus GCONV_PATH, HOSTALIASES, LOCPATH,
// NLSPATH, RES_OPTIONS, TMPDIR, TZDIR...) and what sudo's env_reset never keeps (plugins/sudoers/
// env.c initial_badenv_table: IFS, BASH_ENV, ENV, PS4, SHELLOPTS, PERL5LIB, PYTHONPATH, RUBYOPT,
// JAVA_TOOL_OPTIONS, TERMINFO...), with the start-up hooks of the runtimes a cgi-bin holds:
// NODE_OPTIONS (--require a file), PHPRC (php-cgi's php.ini: auto_prepend_file), LUA_INIT.
// README.md lists them with the reason for each group.

/**
 * Header variables never passed (RFC 3875 §4.1.18: the server may leave out any header, and must
 * not duplicate CONTENT_LENGTH / CONTENT_TYPE). HTTP_PROXY is httpoxy (CVE-2016-5385): libraries
 * read it as the outgoing proxy. Connection and Transfer-Encoding describe the hop to the server,
 * not the request (RFC 9110 §7.6.1, RFC 9112 §6.1): the body a script reads is already de-chunked.
 */
export const DROPPED_HEADER_VARIABLES: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'HTTP_CONTENT_LENGTH',
  'HTTP_CONTENT_TYPE',
  'HTTP_TRANSFER_ENCODING',
  'HTTP_CONNECTION',
]);

/** PATH is the server's: --pass-env PATH, or this conventional one (never a request's). */
export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Variables only the server sets (PATH: the operator's, through --pass-env or the default). */
export const SERVER_ONLY_VARIABLES: ReadonlySet<string> = new Set([
  'PATH', // which program a bare command name runs
  'HOME', // dotfiles: Python's user site-packages, git's and the shells' start-up files
  // Shells (bash, dash, zsh, ksh): files sourced or code run before the script's first line.
  'ENV', 'BASH_ENV', 'IFS', 'CDPATH', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'GLOBIGNORE', 'FPATH', 'ZDOTDIR', 'NULLCMD', 'READNULLCMD', 'TMPPREFIX',
  // glibc: modules, locale and resolver files it loads (removed in secure-execution mode).
  'GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'NIS_PATH', 'NLSPATH', 'PATH_LOCALE', 'RESOLV_HOST_CONF', 'RES_OPTIONS', 'TMPDIR', 'TZDIR',
  // Other loaders and libraries sudo drops: Kerberos, terminfo, AIX/HP-UX loaders.
  'KRB5_CONFIG', 'KRB5_KTNAME', 'TERMINFO', 'TERMINFO_DIRS', 'TERMCAP', 'TERMPATH', 'SHLIB_PATH', 'LIBPATH', 'OPENSSL_CONF',
  // Interpreters' start-up hooks.
  'PERLLIB', 'PERLIO_DEBUG', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'PHPRC', 'PHP_INI_SCAN_DIR',
]);

/** Whole families: the dynamic loaders (glibc LD_*, macOS DYLD_*, IRIX _RLD*, AIX LDR_*), malloc tuning, interpreters. */
export const SERVER_ONLY_PREFIXES: readonly string[] = ['LD_', 'DYLD_', '_RLD', 'LDR_', 'MALLOC_', 'BASH_FUNC_', 'PYTHON', 'PERL5', 'RUBY', 'NODE_', 'LUA_'];

/** True for a name a request may set: not the server's, and a well-formed variable name. */
function judge(name: string): boolean {
  // '=' would make "A=B=c" at execve, a variable A with the value "B=c": LD_PRELOAD by another name.
  if (name.length === 0 || name.includes('=') || name.includes('\0')) return false;
  if (DROPPED_HEADER_VARIABLES.has(name) || SERVER_ONLY_VARIABLES.has(name)) return false;
  for (const prefix of SERVER_ONLY_PREFIXES) if (name.startsWith(prefix)) return false;
  return true;
}

/**
 * Verdicts by name, bounded so hostile peers cannot grow it: the pool judges some thirty names a
 * request (nginx passes every header), nearly always the same ones, so a lookup replaces a dozen
 * prefix tests. No deletes: when full it stops learning and judges the rest each time.
 */
const verdicts = new Map<string, boolean>();
const VERDICTS_MAX = 1024;

/**
 * May a variable named by a request reach a script? A FastCGI parameter must pass this to enter a
 * program's environment or a handler's env; a header's HTTP_* name does too (headerVariable).
 * HTTP_AUTHORIZATION carries the password: only with --pass-authorization.
 */
export function requestMayName(name: string, passAuthorization: boolean): boolean {
  let ok = verdicts.get(name);
  if (ok === undefined) {
    ok = judge(name);
    if (verdicts.size < VERDICTS_MAX) verdicts.set(name, ok);
  }
  return ok && (passAuthorization || name !== 'HTTP_AUTHORIZATION');
}

/** Memo of lower-case header name -> HTTP_* name, '' when the rule drops it; bounded likewise. */
const headerNames = new Map<string, string>();
const HEADER_NAMES_MAX = 512;

/**
 * The §4.1.18 variable of a request header, '' when the rule never passes it. `lower` holds only
 * letters, digits and '-' (the caller drops other names: X_Forwarded_For could alias
 * X-Forwarded-For). Authorization is left to the caller, which also reads it for AUTH_TYPE.
 */
export function headerVariable(lower: string): string {
  let name = headerNames.get(lower);
  if (name === undefined) {
    name = 'HTTP_' + lower.toUpperCase().replaceAll('-', '_');
    if (!requestMayName(name, true)) name = '';
    if (headerNames.size < HEADER_NAMES_MAX) headerNames.set(lower, name);
  }
  return name;
}
