// `forkfast bench`: fork cost against the resident pool.
export async function runBenchCommand(scripts: string[], flags: Record<string, unknown>): Promise<number> {
  void scripts;
  void flags;
  process.stderr.write('forkfast: bench is not built yet\n');
  return 1;
}
