#!/usr/bin/env node
// The forkfast command line: the only reader of process.argv and the environment.
import { VERSION } from './version.js';
import { Command, CommanderError, Option } from 'commander';
import { POOL_OPTIONS, SERVE_OPTIONS, poolConfig, serveConfig, type OptionSpec } from './config.js';
import { UsageError } from './errors.js';

/** Exit codes of the contract: 0 success, 1 runtime failure, 2 bad usage. */
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  for (const spec of specs) {
    // Defaults are applied by config.ts (so that env and file can sit between them and flags);
    // the help text only shows them (commander shows a default only when it applies it).
    const shown = spec.defaultText ?? (spec.defaultValue === undefined || (Array.isArray(spec.defaultValue) && spec.defaultValue.length === 0) ? undefined : String(spec.defaultValue));
    const opt = new Option(spec.flags, shown === undefined ? spec.description : `${spec.description} (default: ${shown})`);
    if (spec.repeatable) opt.argParser((value: string, prev: string[] | undefined) => [...(prev ?? []), value]);
    cmd.addOption(opt);
    if (spec.negatable) cmd.addOption(new Option(spec.flags.replace('--', '--no-'), `turn ${spec.flags} off`));
  }
  return cmd;
}

function fail(message: string, code: number): never {
  process.stderr.write(`forkfast: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('forkfast')
    .description('A CGI/FastCGI gateway: fork-per-request CGI and a resident FastCGI pool, side by side.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, 'forkfast: ')) });

  let run: (() => Promise<number>) | undefined;

  addOptions(program.command('serve').description('serve public/ files, /cgi-bin/ (fork per request) and /fcgi-bin/ (resident pool) over HTTP'), SERVE_OPTIONS)
    .exitOverride()
    .action((flags: Record<string, unknown>) => {
      const config = serveConfig({ flags, env: process.env });
      // SIGHUP re-reads the same sources (the config file may have changed since).
      run = async () => (await import('./serve.js')).runServe(config, () => serveConfig({ flags, env: process.env }));
    });

  addOptions(program.command('pool').description('run the resident FastCGI worker pool alone (a backend for nginx fastcgi_pass)'), POOL_OPTIONS)
    .exitOverride()
    .action((flags: Record<string, unknown>) => {
      const config = poolConfig({ flags, env: process.env });
      run = async () => (await import('./pool-command.js')).runPoolCommand(config, () => poolConfig({ flags, env: process.env }));
    });

  const config = program.command('config').description('print the effective configuration of serve or pool and where each value came from; --check validates').exitOverride();
  for (const name of ['serve', 'pool'] as const) {
    addOptions(config.command(name).description(`the effective configuration of \`forkfast ${name}\` (the same options)`), name === 'serve' ? SERVE_OPTIONS : POOL_OPTIONS)
      .option('--check', 'validate only: exit 0, or 2 with every problem listed')
      .option('--json', 'print the configuration as JSON')
      .exitOverride()
      .action((flags: Record<string, unknown>) => {
        const { check, json, ...rest } = flags;
        run = async () => (await import('./config-command.js')).runConfigCommand(name, { flags: rest, env: process.env }, { check: check === true, json: json === true });
      });
  }

  program
    .command('bench')
    .description('measure fork-per-request CGI against the resident pool, side by side')
    .argument('[scripts...]', 'scripts in cgi-bin/ to measure', [])
    .option('--url <url>', 'target an already running forkfast instead of starting one')
    .option('--duration <s>', 'seconds of load per phase', '5')
    .option('--warmup <s>', 'seconds of warm-up per phase', '1')
    .option('-c, --connections <n>', 'concurrent connections', '32')
    .option('--cgi-bin <dir>', 'cgi-bin directory of the server bench starts (default ./cgi-bin, else the bundled examples)')
    .option('--workers <n>', 'pool workers of the server bench starts (default: number of CPUs)')
    .option('--out <file>', 'write a self-contained HTML report with charts')
    .option('--json <file>', 'write the figures as JSON')
    .exitOverride()
    .action((scripts: string[], flags: Record<string, unknown>) => {
      run = async () => (await import('./bench-command.js')).runBenchCommand(scripts, flags);
    });

  for (const [name, what] of [['reload', 'reload a running serve or pool (SIGHUP) and wait until its new workers serve'], ['stop', 'stop a running serve or pool (SIGTERM; --fast: SIGQUIT) and wait until it exited']] as const) {
    const cmd = program
      .command(name)
      .description(what)
      .option('--pid <file>', 'the pid file the server was started with (--pid); default FORKFAST_PID')
      .option('--timeout <s>', 'give up after this many seconds (exit 1)', '60')
      .exitOverride()
      .action((flags: Record<string, unknown>) => {
        run = async () => (await import('./commands/control.js')).runControl(name, { ...flags, pid: flags['pid'] ?? process.env['FORKFAST_PID'] });
      });
    if (name === 'stop') cmd.option('--fast', 'stop fast (SIGQUIT): in-flight requests get a short deadline');
  }
  program
    .command('top')
    .description('a live view of a pool\'s workers (uwsgitop): from the --stats listener or a status URL such as http://127.0.0.1:8080/-/status')
    .argument('[url]', 'status page URL')
    .option('--stats <addr>', 'the pool\'s --stats listener', '127.0.0.1:9191')
    .exitOverride()
    .action((url: string | undefined, flags: { stats: string }) => {
      run = async () => {
        const top = await import('./ops/top.js');
        return top.runTop({ url: top.statusUrl(url ?? flags.stats), intervalMs: 1000, out: process.stdout, input: process.stdin });
      };
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; commander already printed them.
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) fail(err.message, EXIT_USAGE);
    throw err;
  }
  if (!run) {
    program.outputHelp();
    return EXIT_USAGE;
  }
  return run();
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) fail(err.message, EXIT_USAGE);
    fail(err instanceof Error ? err.message : String(err), EXIT_RUNTIME);
  },
);
