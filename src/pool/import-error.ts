// Which file and line a handler module failed to import at, from the error Node throws.
//
// An error thrown while a module body runs carries its place in the first stack frame
// (`at file:///srv/cgi-bin/x.mjs:2:7`), which may name a file the handler imports. A SyntaxError
// from the ESM loader carries none (Node prints the place only for an uncaught error): the file
// is then compiled again by `node --check`, which names the line, at the cost of one process per
// failed import (never per request).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ImportFailure } from './reload-state.js';

const PLACE = /(file:\/\/[^\s:)]+):(\d+)/;
const CHECK_TIMEOUT_MS = 5000;

export async function describeImportError(err: unknown, importedFile: string): Promise<ImportFailure> {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const m = PLACE.exec(stack);
  if (m !== null) {
    try {
      return { file: fileURLToPath(m[1]!), line: Number(m[2]), message };
    } catch {
      // Not a file URL after all: fall through.
    }
  }
  if (err instanceof SyntaxError) {
    const line = await syntaxErrorLine(importedFile);
    if (line > 0) return { file: importedFile, line, message };
  }
  return { file: importedFile, line: 0, message };
}

/** The line `node --check` names for a syntax error in `file`, or 0. */
function syntaxErrorLine(file: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: CHECK_TIMEOUT_MS, env: {} }, (_err, _stdout, stderr) => {
      // First line: `/srv/cgi-bin/x.mjs:3`.
      const first = String(stderr).split('\n', 1)[0] ?? '';
      const at = first.lastIndexOf(':');
      resolve(at > 0 && first.slice(0, at) === file ? Number(first.slice(at + 1)) || 0 : 0);
    });
  });
}

/** One line for logs and the reload command: `/srv/cgi-bin/x.mjs:3: SyntaxError: Unexpected token`. */
export function formatImportFailure(f: ImportFailure): string {
  return `${f.file}${f.line > 0 ? `:${f.line}` : ''}: ${f.message}`;
}
