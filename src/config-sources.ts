// Where option values come from: flags, FORKFAST_* variables, a JSON config file, defaults.
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

export interface OptionSpec {
  /** camelCase key: the config-file key and the commander attribute name. */
  readonly key: string;
  /** commander flag syntax, e.g. '-l, --listen <addr>'. */
  readonly flags: string;
  readonly description: string;
  /** Shown in --help; the value used when nothing else sets the option. */
  readonly defaultValue?: unknown;
  /** What --help says the default is, when the value itself says too little ("number of CPUs"). */
  readonly defaultText?: string;
  /** A boolean flag that also has its `--no-` form (false). */
  readonly negatable?: boolean;
  /** Repeatable flag: values accumulate into an array. */
  readonly repeatable?: boolean;
}

/** Where one option's value came from: `forkfast config` prints it. */
export type ValueSource = 'flag' | 'env' | 'file' | 'default';

export function envName(key: string): string {
  return 'FORKFAST_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** The long flag of an option, e.g. '--max-body-size'. */
export function longFlag(spec: OptionSpec): string {
  return /--[a-z0-9-]+/.exec(spec.flags)?.[0] ?? spec.key;
}

/** A flag that takes no value (`--pass-authorization`): a boolean in the config file. */
export function isSwitch(spec: OptionSpec): boolean {
  return !spec.flags.includes('<');
}

export interface RawSources {
  /** Values commander parsed from argv, only those the user gave. */
  readonly flags: Record<string, unknown>;
  readonly env: NodeJS.ProcessEnv;
}

export interface Merged {
  readonly values: Record<string, unknown>;
  readonly sources: Record<string, ValueSource>;
  /** The config file that was read, if any. */
  readonly configPath: string | undefined;
  /** Problems found in the config file itself (bad JSON, unknown keys, wrong types). */
  readonly problems: string[];
}

/**
 * Merges the sources for the given options: flag > FORKFAST_* > config file > default. The config
 * file is named by --config or FORKFAST_CONFIG; it is JSON with the options' camelCase (or
 * kebab-case) keys. A problem in the file is collected, not thrown, so that `forkfast config
 * --check` can list every one; the offending key then falls back to the next source.
 */
export function mergeSources(specs: readonly OptionSpec[], raw: RawSources): Merged {
  const configPath = raw.flags['config'] ?? raw.env['FORKFAST_CONFIG'];
  const problems: string[] = [];
  const file = configPath === undefined || configPath === '' ? {} : readConfigFile(String(configPath), specs, problems);
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
  return { values, sources, configPath: configPath === undefined || configPath === '' ? undefined : String(configPath), problems };
}

function readConfigFile(path: string, specs: readonly OptionSpec[], problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    problems.push(`cannot read config file ${path}: ${why}`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    problems.push(`config file ${path}: ${jsonErrorWhere(text, (err as Error).message)}`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${path} must hold a JSON object ({"listen": "127.0.0.1:8080", ...})`);
    return {};
  }
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const spec = byKey.get(key);
    if (spec === undefined || key === 'config') {
      problems.push(`config file ${path}: unknown option "${k}"`);
      continue;
    }
    const wrong = typeProblem(spec, v);
    if (wrong !== null) {
      problems.push(`config file ${path}: "${k}" ${wrong}`);
      continue;
    }
    out[key] = v;
  }
  return out;
}

/** The JSON type a key takes: a switch is a boolean, a list an array of strings, the rest a string or number. */
function typeProblem(spec: OptionSpec, v: unknown): string | null {
  const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  if (isSwitch(spec)) return typeof v === 'boolean' ? null : `must be true or false, not ${got}`;
  if (spec.repeatable) {
    if (typeof v === 'string') return null;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return null;
    return `must be an array of strings, not ${got}`;
  }
  return typeof v === 'string' || typeof v === 'number' ? null : `must be a string or a number, not ${got}`;
}

/** "line 3, column 14: <V8's message>" from V8's "... at position N" (Node 20) or "(line L column C)" (Node 22+). */
function jsonErrorWhere(text: string, message: string): string {
  const why = message.replace(/\s*\(line \d+ column \d+\)$/, '').replace(/\s+in JSON at position \d+.*$/, '');
  const lc = /\(line (\d+) column (\d+)\)/.exec(message);
  if (lc) return `invalid JSON at line ${lc[1]}, column ${lc[2]}: ${why}`;
  const pos = /at position (\d+)/.exec(message);
  const offset = pos ? Number(pos[1]) : text.length;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `invalid JSON at line ${line}, column ${column}: ${why}`;
}

/** Bad usage with every problem found; the message (one line) names the first and counts the rest. */
export class ConfigProblems extends UsageError {
  constructor(
    readonly problems: readonly string[],
    command: string,
  ) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: forkfast config ${command} --check lists them)` : '';
    super(problems[0] + more);
  }
}

/**
 * Parses option values, collecting every problem instead of stopping at the first. A failed
 * value reads as undefined: the caller throws ConfigProblems before the config is used.
 */
export class OptionReader {
  readonly problems: string[];

  constructor(
    readonly merged: Merged,
    private readonly specs: readonly OptionSpec[],
  ) {
    this.problems = [...merged.problems];
  }

  raw(key: string): unknown {
    return this.merged.values[key];
  }

  take<T>(key: string, parse: (value: unknown) => T): T {
    try {
      return parse(this.merged.values[key]);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      this.problems.push(this.where(key) + err.message);
      return undefined as T;
    }
  }

  /** Runs a check that spans options (e.g. --fastcgi needs --docroot). */
  check(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      this.problems.push(err.message);
    }
  }

  /** Flags need no prefix (the user just typed them); a variable or file value is named. */
  private where(key: string): string {
    const source = this.merged.sources[key];
    if (source === 'env') return `${envName(key)}: `;
    if (source === 'file') return `config file ${this.merged.configPath}: "${key}": `;
    if (source === 'default') return `default of ${longFlag(this.specs.find((s) => s.key === key)!)}: `;
    return '';
  }
}
