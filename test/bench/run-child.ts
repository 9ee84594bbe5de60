// Runs runBench in a separate process for the tests: options as JSON in argv[2], exit code = runBench's.
import { runBench } from '../../src/bench/run.js';
import { silentLogger } from '../../src/log.js';
import type { BenchOptions } from '../../src/bench/types.js';

const options = JSON.parse(process.argv[2] ?? '{}') as BenchOptions;
runBench(options, silentLogger()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`run-child: ${String(err)}\n`);
    process.exit(99);
  },
);
