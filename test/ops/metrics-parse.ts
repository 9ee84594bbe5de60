// Parses metrics with a real Prometheus parser: the Python client's (Debian python3-prometheus-client).
import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import sys, json
from prometheus_client.parser import text_string_to_metric_families as prom
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
parse = om if sys.argv[1] == 'openmetrics' else prom
out = []
for fam in parse(sys.stdin.read()):
    out.append({'name': fam.name, 'type': fam.type, 'samples': [[s.name, s.labels, s.value] for s in fam.samples]})
print(json.dumps(out))
`;

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly samples: [string, Record<string, string>, number][];
}

/** null when the parser is not installed (the caller skips and says so). */
export function parserMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import prometheus_client'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'python3-prometheus-client is not installed (apt-get install python3-prometheus-client)';
}

/** Throws with the parser's own message when the text does not parse. */
export function parseMetrics(text: string, format: 'prometheus' | 'openmetrics'): Family[] {
  const r = spawnSync(PYTHON, ['-c', SCRIPT, format], { input: text, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`the ${format} parser refused the exposition: ${r.stderr}\n${text}`);
  return JSON.parse(r.stdout) as Family[];
}

export function sample(families: Family[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const [n, l, v] of f.samples) {
      if (n === name && Object.entries(labels).every(([k, want]) => l[k] === want)) return v;
    }
  }
  return undefined;
}
