// `forkfast config serve|pool`: the effective configuration and where each value came from; --check validates.
import { COMMAND_OPTIONS, poolConfig, serveConfig } from './config.js';
import { ConfigProblems, envName, longFlag, mergeSources, type RawSources, type ValueSource } from './config-sources.js';

export type ConfigCommand = keyof typeof COMMAND_OPTIONS;

export interface ConfigCommandOptions {
  readonly check: boolean;
  readonly json: boolean;
}

interface Row {
  readonly option: string;
  readonly value: unknown;
  readonly source: ValueSource;
  /** Where exactly: the flag, the variable or the file. */
  readonly from: string;
}

/** Prints the table (or JSON) on stdout and every problem on stderr; 0 when valid, 2 when not. */
export function runConfigCommand(command: ConfigCommand, raw: RawSources, opts: ConfigCommandOptions): number {
  const specs = COMMAND_OPTIONS[command];
  const merged = mergeSources(specs, raw);
  const problems = validate(command, raw);
  const rows: Row[] = specs
    .filter((s) => s.key !== 'config')
    .map((s) => {
      const source = merged.sources[s.key]!;
      const from = source === 'flag' ? longFlag(s) : source === 'env' ? envName(s.key) : source === 'file' ? merged.configPath! : 'default';
      return { option: longFlag(s).slice(2), value: merged.values[s.key], source, from };
    });
  if (opts.json) {
    process.stdout.write(JSON.stringify({ command, configFile: merged.configPath ?? null, options: rows, problems }, null, 2) + '\n');
  } else if (!opts.check) {
    process.stdout.write(formatTable(command, merged.configPath, rows));
  }
  for (const problem of problems) process.stderr.write(`forkfast: ${problem}\n`);
  if (opts.check && problems.length === 0 && !opts.json) process.stdout.write(`forkfast config ${command}: ok\n`);
  return problems.length === 0 ? 0 : 2;
}

/** Every problem of the configuration: the same parsers `serve` and `pool` run at start. */
function validate(command: ConfigCommand, raw: RawSources): readonly string[] {
  try {
    if (command === 'serve') serveConfig(raw);
    else poolConfig(raw);
    return [];
  } catch (err) {
    if (err instanceof ConfigProblems) return err.problems;
    throw err;
  }
}

function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map(String).join(', ');
  return String(value);
}

function formatTable(command: string, configPath: string | undefined, rows: readonly Row[]): string {
  const width = Math.max(...rows.map((r) => r.option.length));
  const valueWidth = Math.min(40, Math.max(...rows.map((r) => show(r.value).length)));
  const head = `# forkfast ${command}: effective configuration (flag > FORKFAST_* variable > config file > default)\n# config file: ${configPath ?? '(none)'}\n`;
  return head + rows.map((r) => `${r.option.padEnd(width)}  ${show(r.value).padEnd(valueWidth)}  # ${r.source === 'default' ? 'default' : `${r.source} ${r.from}`}\n`).join('');
}
